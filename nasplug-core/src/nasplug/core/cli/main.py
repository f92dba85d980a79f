"""``nasplug``: list plugins, run configurations, and inspect and report stored runs.

Every user error is printed as one ``error: ...`` line on stderr with exit status 2; no
traceback. Plugins add subcommands through the ``nasplug_add_commands`` hook.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import warnings
from datetime import datetime
from typing import Any, Sequence

from nasplug.core.errors import NasplugError
from nasplug.core.registry import GROUPS

DEFAULT_STORE = "nasplug.db"


def _json(obj: Any, **kwargs: Any) -> str:
    kwargs.setdefault("default", str)
    from nasplug.core.store import finite

    return json.dumps(finite(obj), allow_nan=False, **kwargs)


def _store_path(args: argparse.Namespace) -> str:
    return args.store or os.environ.get("NASPLUG_STORE") or DEFAULT_STORE


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.6g}"
    return str(value)


def _versions() -> list[tuple[str, str]]:
    """Every installed nasplug distribution (the core and plugin packages) with its version."""
    from importlib.metadata import distributions

    found = {}
    for dist in distributions():
        name = dist.metadata.get("Name") or ""
        if name.lower().replace("_", "-").startswith("nasplug"):
            found[name] = dist.version
    return sorted(found.items())


class _Version(argparse.Action):
    def __call__(self, parser: Any, namespace: Any, values: Any, option_string: str | None = None) -> None:
        for name, version in _versions():
            print(f"{name} {version}")
        parser.exit()


def cmd_part_options(args: argparse.Namespace) -> int:
    """``nasplug plugins NAME``: one part's summary and options (type, default, what it does)."""
    from nasplug.core.options import describe_options
    from nasplug.core.registry import registry

    reg = registry()
    kinds = [args.kind] if args.kind else list(GROUPS)
    matches = [k for k in kinds if args.name in reg.names(k)]
    if not matches:
        known = sorted({n for k in kinds for n in reg.names(k)})
        import difflib

        close = difflib.get_close_matches(args.name, known, n=1)
        raise NasplugError(f"no part named '{args.name}'" + (f"; did you mean '{close[0]}'?" if close else
                                                             "; 'nasplug plugins' lists every part"))
    rows = []
    for kind in matches:
        cls = reg.load(kind, args.name)
        rows.append({"kind": kind, "name": args.name, "summary": cls.summary(),
                     "options": [{"name": o.name, "type": o.type, "default": o.default, "doc": o.doc} for o in describe_options(cls)]})
    if args.format == "json":
        print(_json(rows, indent=2))
        return 0
    for row in rows:
        print(f"{row['kind']} {row['name']}: {row['summary']}")
        if not row["options"]:
            print("  (no options)")
        width = max((len(o["name"]) for o in row["options"]), default=4)
        for o in row["options"]:
            print(f"  {o['name']:<{width}}  {o['type']} = {o['default']!r}")
            if o["doc"]:
                print(f"  {'':<{width}}  {o['doc']}")
    return 0


def cmd_plugins(args: argparse.Namespace) -> int:
    from nasplug.core.registry import registry

    if getattr(args, "name", None):
        return cmd_part_options(args)
    kinds = [args.kind] if args.kind else list(GROUPS)
    infos = registry().describe(kinds)
    if args.format == "json":
        import attrs

        print(_json([attrs.asdict(info) for info in infos], indent=2))
        return 0
    ok = [i for i in infos if i.error is None]
    bad = [i for i in infos if i.error is not None]
    width = max((len(i.name) for i in infos), default=4)
    origin = {id(i): f"{i.package} {i.version}".strip() for i in infos}
    pkg_width = max((len(o) for o in origin.values()), default=7)
    for kind in kinds:
        rows = [i for i in ok if i.kind == kind]
        if not rows:
            continue
        print(f"{kind}:")
        for i in rows:
            print(f"  {i.name:<{width}}  {origin[id(i)]:<{pkg_width}}  {i.summary}")
    if bad:
        print("load failures:")
        for i in bad:
            print(f"  {i.kind} {i.name} ({i.package}): {i.error}")
    return 0


def _print_result(kind: str, rid: int, store: str, result: dict[str, Any], resumed: bool, header: bool = True) -> None:
    pad = "  "
    if header:
        verb = "resumed and finished" if resumed else "finished"
        print(f"run {rid} ({kind}) {verb}; stored in {store}")
    else:
        print("  result:")
        pad = "    "
    for key, value in result.items():
        if isinstance(value, dict):
            print(f"{pad}{key}:")
            for sub, v in value.items():
                if isinstance(v, dict):
                    print(f"{pad}  {sub}: " + ", ".join(f"{k}={_fmt(x)}" for k, x in v.items()))
                else:
                    print(f"{pad}  {sub}: {_fmt(v)}")
        else:
            print(f"{pad}{key}: {_fmt(value)}")


def _numbers(result: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """Numeric entries of a result, nested tables flattened to dotted keys."""
    out: dict[str, float] = {}
    for key, value in result.items():
        if isinstance(value, dict):
            out.update(_numbers(value, f"{prefix}{key}."))
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            out[f"{prefix}{key}"] = float(value)
    return out


def _print_seeds(results: list[Any], fmt: str) -> None:
    """One line per seed's run, then mean and standard deviation of each number over the seeds."""
    import numpy as np

    if fmt == "json":
        print(_json([{"id": r.id, "kind": r.kind, "store": r.store, "resumed": r.resumed, "result": r.result}
                          for r in results], indent=2, default=str))
        return
    print(f"{len(results)} runs ({results[0].kind}), one per seed; stored in {results[0].store}")
    for r in results:
        state = "failed: " + str(r.result.get("error")) if r.result.get("failed") else ("resumed" if r.resumed else "finished")
        print(f"  run {r.id}: {state}")
    table: dict[str, list[float]] = {}
    for r in results:
        if not r.result.get("failed"):
            for key, value in _numbers(r.result).items():
                table.setdefault(key, []).append(value)
    if table:
        print("  mean +- std over seeds:")
        for key, values in table.items():
            print(f"    {key}: {_fmt(float(np.mean(values)))} +- {_fmt(float(np.std(values)))} (n={len(values)})")


def _spec(value: Any) -> str:
    if isinstance(value, dict):
        options = ", ".join(f"{k}={v}" for k, v in value.items() if k != "name")
        return f"{value.get('name')}({options})" if options else str(value.get("name"))
    return str(value)


def _search_summary(config: Any, result: dict[str, Any]) -> list[str]:
    """A few plain sentences on a finished search: what was searched, what was found, how good it
    truly is against the best of the benchmark, and how long it took."""
    raw = config.raw
    lines = [f"Searched {_spec(raw.get('space'))} with {_spec(raw.get('strategy'))}, {result.get('queries')} evaluations of "
             f"{_spec(raw.get('objective'))}, in {result.get('run_seconds', float('nan')):.0f} s.",
             f"Found {result.get('best_arch')} (objective {_fmt(result.get('best_value'))})."]
    report = result.get("report") or {}
    for metric in [k for k in report if not k.endswith(("_optimum", "_regret"))]:
        lines.append(f"  {metric}: {report[metric]:.2f}  (best in the benchmark {report[metric + '_optimum']:.2f}, "
                     f"{report[metric + '_regret']:.2f} below it)")
    return lines


def cmd_run(args: argparse.Namespace) -> int:
    from nasplug.core.config import load_config
    from nasplug.core.runs import run, run_seeds

    config = load_config(args.config, overrides=args.set or ())
    if args.seeds is not None or config.seeds is not None:
        if args.run is not None:
            raise NasplugError("--run continues one run; resume a multi-seed run with --resume alone")
        _print_seeds(run_seeds(config, args.seeds, resume=args.resume, store_path=args.store), args.format)
        return 0
    result = run(config, resume=args.resume, run_id=args.run, store_path=args.store)
    if args.format == "json":
        print(_json({"id": result.id, "kind": result.kind, "store": result.store, "resumed": result.resumed,
                          "result": result.result}, indent=2, default=str))
    else:
        _print_result(result.kind, result.id, result.store, result.result, result.resumed)
        if result.kind == "search" and result.result.get("best_arch") is not None:
            print()
            print("\n".join(_search_summary(config, result.result)))
    if args.report_dir:
        from nasplug.core.report import write_report
        from nasplug.core.store import Store

        with Store(result.store, read_only=True) as store:
            for path in write_report(store, [result.id], args.report_dir):
                print(f"wrote {path}", file=sys.stderr if args.format == "json" else sys.stdout)
    return 0


def cmd_runs(args: argparse.Namespace) -> int:
    from nasplug.core.store import Store

    with Store(_store_path(args), read_only=True) as store:
        runs = store.runs()
        if args.format == "json":
            print(_json([{"id": r.id, "kind": r.kind, "name": r.name, "status": store.effective_status(r), "seed": r.seed,
                               "evaluations": store.count_evaluations(r.id), "created": r.created} for r in runs], indent=2))
            return 0
        print(f"{'id':>4}  {'kind':<8} {'status':<12} {'evals':>6}  {'seed':>5}  {'created':<19}  name")
        for r in runs:
            created = datetime.fromtimestamp(r.created).strftime("%Y-%m-%d %H:%M:%S")
            print(f"{r.id:>4}  {r.kind:<8} {store.effective_status(r):<12} {store.count_evaluations(r.id):>6}  {r.seed:>5}  {created}  {r.name}")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from nasplug.core.config import COMMON_TABLES, TOP_KEYS
    from nasplug.core.store import Store

    with Store(_store_path(args), read_only=True) as store:
        run = store.run(args.run)
        evaluations = store.count_evaluations(run.id)
        rounds = store.rounds(run.id)
        if args.format == "json":
            print(_json({"id": run.id, "kind": run.kind, "name": run.name, "status": store.effective_status(run), "seed": run.seed,
                              "config_hash": run.config_hash, "config": run.config, "evaluations": evaluations,
                              "rounds": [{"round": r.round, "metrics": r.metrics} for r in rounds],
                              "result": run.result}, indent=2, default=str))
            return 0
        print(f"run {run.id} ({run.kind}, {store.effective_status(run)}) '{run.name}' seed {run.seed}, config {run.config_hash}")
        print("  parts: " + ", ".join(f"{k}={v.get('name') if isinstance(v, dict) else v}" for k, v in run.config.items()
                                      if k == "space" or k not in (*TOP_KEYS, *COMMON_TABLES, run.kind)))
        print(f"  evaluations stored: {evaluations}")
        for r in rounds:
            print(f"  round {r.round}: " + ", ".join(f"{k}={_fmt(v)}" for k, v in r.metrics.items() if not k.endswith("_seconds")))
        if run.result:
            _print_result(run.kind, run.id, str(store.path), run.result, False, header=False)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from nasplug.core.report import write_report
    from nasplug.core.store import Store

    with Store(_store_path(args), read_only=True) as store:
        for path in write_report(store, args.runs, args.out):
            print(path)
    return 0


def cmd_new(args: argparse.Namespace) -> int:
    from nasplug.core.scaffold import scaffold

    root = scaffold(args.kind, args.name, args.dir)
    print(f"wrote {root}: pip install -e '{root}[testing]' then run pytest in it")
    return 0


def cmd_dashboard(args: argparse.Namespace) -> int:
    try:
        from nasplug.core.dashboard.app import serve
        import plotly  # noqa: F401
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise NasplugError(f"the dashboard needs {exc.name}, part of an optional extra; pip install 'nasplug-core[dashboard]'") from None
    serve(_store_path(args) if args.store_path is None else args.store_path, host=args.host, port=args.port)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nasplug", description="A plugin framework for neural architecture search.")
    parser.add_argument("--version", action=_Version, nargs=0, help="print every installed nasplug distribution and its version")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("plugins", help="list every registered part (or one part's options) and any that failed to load")
    p.add_argument("name", nargs="?", help="a part's name: print its options with types, defaults and docs")
    p.add_argument("--kind", choices=list(GROUPS))
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.set_defaults(func=cmd_plugins)

    p = sub.add_parser("run", help="run a TOML configuration (search, predict or score)")
    p.add_argument("config", help="path of the TOML run configuration")
    p.add_argument("--resume", action="store_true", help="continue the store's latest run (or --run ID) made from this config")
    p.add_argument("--run", type=int, default=None, metavar="ID", help="with --resume: the run to continue")
    p.add_argument("--store", default=None, help="result database (default: the config's store.path)")
    p.add_argument("--seeds", default=None, metavar="SEEDS",
                   help="run the config once per seed, e.g. 0-19 or 0-4,10 (each stored as its own run; overrides the config's seeds)")
    p.add_argument("--report-dir", default=None, metavar="DIR",
                   help="after the run, write its CSV tables and PNG plots (e.g. the best-so-far curve) to DIR")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override a config key, e.g. --set search.queries=200 --set strategy.population_size=20 "
                        "(repeatable; validated like the file and stored with the run)")
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.set_defaults(func=cmd_run)

    for name, helptext, func in (("runs", "list stored runs", cmd_runs),):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("--store", default=None, help=f"result database (default: $NASPLUG_STORE or {DEFAULT_STORE})")
        p.add_argument("--format", choices=["text", "json"], default="text")
        p.set_defaults(func=func)

    p = sub.add_parser("show", help="show one stored run")
    p.add_argument("run", help="run id (see 'nasplug runs')")
    p.add_argument("--store", default=None, help=f"result database (default: $NASPLUG_STORE or {DEFAULT_STORE})")
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.set_defaults(func=cmd_show)

    p = sub.add_parser("report", help="write CSV tables and PNG plots of stored runs")
    p.add_argument("runs", nargs="+", help="run ids")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--store", default=None, help=f"result database (default: $NASPLUG_STORE or {DEFAULT_STORE})")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("new", help="scaffold an out-of-tree plugin package (pyproject, class, conformance test, README)")
    p.add_argument("kind", choices=["sampler", "proxy", "strategy", "space"])
    p.add_argument("name", help="the part's name, e.g. my-sampler")
    p.add_argument("--dir", default=".", help="where to create the package folder (default: here)")
    p.set_defaults(func=cmd_new)

    p = sub.add_parser("dashboard", help="serve a live, read-only web view of a result store (extra: nasplug-core[dashboard])")
    p.add_argument("store_path", nargs="?", default=None, metavar="STORE",
                   help=f"result database (default: --store, $NASPLUG_STORE or {DEFAULT_STORE})")
    p.add_argument("--store", default=None, help=argparse.SUPPRESS)
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default: loopback only; reach it over ssh -L)")
    p.add_argument("--port", type=int, default=8080)
    p.set_defaults(func=cmd_dashboard)

    try:
        from nasplug.core.plugins import plugin_manager

        plugin_manager().hook.nasplug_add_commands(subparsers=sub)
    except Exception as exc:  # a broken hook plugin must not take the CLI down
        print(f"warning: a plugin failed to add commands: {exc}", file=sys.stderr)
    return parser


def _one_line_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                      line: str | None = None) -> str:
    return f"warning: {message}\n"


def main(argv: Sequence[str] | None = None) -> int:
    warnings.formatwarning = _one_line_warning  # e.g. a plugin name registered twice: one line, no source
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except NasplugError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; continue with 'nasplug run CONFIG --resume'", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except OSError as exc:  # the file system refused (permissions, a full disk, a file where a folder was expected)
        where = f" ({exc.filename})" if exc.filename else ""
        print(f"error: {exc.strerror or exc}{where}; check the path, its permissions and free space", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
