"""The dashboard's web app: a Starlette application over one store, read-only.

Each request opens the store read-only (SQLite WAL lets it read while runs write) and closes it;
the front end (``static/``) polls the JSON endpoints, so charts follow a run as it writes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nasplug.core.dashboard import data
from nasplug.core.errors import NasplugError
from nasplug.core.store import Store

STATIC = Path(__file__).resolve().parent / "static"


def plotly_js() -> Path:
    """Plotly.js as shipped inside the installed ``plotly`` package (no CDN: works offline)."""
    import plotly

    return Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"


def create_app(store_path: str | Path) -> Any:
    """The ASGI app serving ``store_path`` (which must exist: it is never created)."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import FileResponse, JSONResponse, StreamingResponse
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    path = Path(store_path)
    Store(path, read_only=True).close()  # fail now, with the store's own message, if it cannot be read

    def opened() -> Store:
        return Store(path, read_only=True)

    def answer(make: Any) -> Any:
        try:
            with opened() as store:
                return JSONResponse(make(store))
        except NasplugError as exc:
            return JSONResponse({"error": str(exc)}, status_code=404)
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)

    def run_id(request: Request) -> int:
        return int(request.path_params["run_id"])

    async def index(request: Request) -> Any:
        return FileResponse(STATIC / "index.html")

    async def runs(request: Request) -> Any:
        q = request.query_params
        return answer(lambda s: {"store": str(path), "runs": data.runs_table(s, kind=q.get("kind") or None,
                                                                             status=q.get("status") or None, text=q.get("q") or None)})

    async def run(request: Request) -> Any:
        return answer(lambda s: data.run_detail(s, run_id(request)))

    async def charts(request: Request) -> Any:
        return answer(lambda s: data.charts(s, run_id(request)))

    async def evaluations(request: Request) -> Any:
        q = request.query_params
        return answer(lambda s: data.evaluations_page(s, run_id(request), order=q.get("order", "seq"),
                                                      descending=q.get("desc") in ("1", "true"),
                                                      offset=int(q.get("offset", 0)), limit=int(q.get("limit", 100))))

    async def evaluations_csv(request: Request) -> Any:
        rid = run_id(request)
        try:
            opened().run(rid)
        except NasplugError as exc:
            return JSONResponse({"error": str(exc)}, status_code=404)

        def rows() -> Any:
            with opened() as store:
                yield from data.evaluations_csv(store, rid)

        return StreamingResponse(rows(), media_type="text/csv",
                                 headers={"Content-Disposition": f'attachment; filename="run{rid}_evaluations.csv"'})

    async def compare(request: Request) -> Any:
        ids = [int(i) for i in request.query_params.get("runs", "").split(",") if i.strip()]
        return answer(lambda s: data.compare(s, ids))

    async def architecture(request: Request) -> Any:
        return answer(lambda s: data.architecture(s, run_id(request), request.query_params.get("arch", "")))

    async def plotly(request: Request) -> Any:
        return FileResponse(plotly_js(), media_type="application/javascript")

    routes = [
        Route("/", index),
        Route("/api/runs", runs),
        Route("/api/runs/{run_id:int}", run),
        Route("/api/runs/{run_id:int}/charts", charts),
        Route("/api/runs/{run_id:int}/evaluations", evaluations),
        Route("/api/runs/{run_id:int}/evaluations.csv", evaluations_csv),
        Route("/api/runs/{run_id:int}/architecture", architecture),
        Route("/api/compare", compare),
        Route("/static/plotly.min.js", plotly),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    return Starlette(routes=routes)


def serve(store_path: str | Path, host: str = "127.0.0.1", port: int = 8080) -> None:
    """Serve the dashboard until interrupted."""
    import uvicorn

    app = create_app(store_path)
    print(f"nasplug dashboard: http://{host}:{port}/ (store {store_path}; read-only)")
    if host in ("127.0.0.1", "localhost"):
        print(f"  from another machine: ssh -L {port}:localhost:{port} THIS_HOST, then open http://localhost:{port}/")
    uvicorn.run(app, host=host, port=port, log_level="warning")
