"""nox sessions for the nasplug monorepo.

    nox -l                          # list sessions
    nox -s tests                    # all five packages, the whole tests/ tree
    nox -s isolated-nasplug-search  # one package next to nasplug-core only, its own tests
    nox -t isolated                 # every isolated-* session
    nox -s combos                   # quick subset of the part-combination matrix
    nox -s combos -- full           # the full matrix (same as nox -s combos-full)
    nox -s third-party              # an out-of-tree plugin (examples/nasplug-example-sampler)
    nox -s third-party-space        # an out-of-tree search space (examples/nasplug-example-space)
    nox -s lint

Every session installs with ``PIP_CONSTRAINT`` pointing at ``constraints.txt`` (torch pinned to
the CPU build 2.13.0: an unpinned torch pulls a multi-GB CUDA build) and sees the shared benchmark
data through ``NASPLUG_BENCHMARKS`` (the variable if set, else ``../shared/benchmarks``).
Packages are installed non-editable, so sessions test what a user's ``pip install`` gets.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = False
nox.options.sessions = ["tests", "combos", "lint"]

ROOT = Path(__file__).resolve().parent
CONSTRAINTS = ROOT / "constraints.txt"
#: PyTorch's CPU wheels (torch 2.13.0+cpu, preferred by pip over PyPI's CUDA build of 2.13.0).
TORCH_CPU_HOST = "download.pytorch.org"
TORCH_CPU_INDEX = f"https://{TORCH_CPU_HOST}/whl/cpu"
BENCHMARKS = Path(os.environ.get("NASPLUG_BENCHMARKS") or (ROOT.parent / "shared" / "benchmarks")).resolve()
EXAMPLE = ROOT / "examples" / "nasplug-example-sampler"
EXAMPLE_SPACE = ROOT / "examples" / "nasplug-example-space"

CORE = "nasplug-core"
#: Each plugin package and the folder of its tests.
PACKAGES: dict[str, str] = {
    "nasplug-core": "tests/core",
    "nasplug-spaces": "tests/spaces",
    "nasplug-samplers": "tests/samplers",
    "nasplug-proxies": "tests/proxies",
    "nasplug-search": "tests/search",
}
TEST_TOOLS = ("pytest", "hypothesis")


def _setup(session: nox.Session) -> None:
    """Environment every session shares: the torch pin, the benchmark data, all plugins visible."""
    session.env["PIP_CONSTRAINT"] = str(CONSTRAINTS)
    session.env["NASPLUG_BENCHMARKS"] = str(BENCHMARKS)
    session.env["NASPLUG_PLUGINS"] = ""  # no distribution filter from the caller's shell
    session.env.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    if not CONSTRAINTS.is_file():
        session.error(f"{CONSTRAINTS} is missing; it pins torch to the CPU build")
    if _torch_cpu_index_resolves():  # as scripts/setup: PyPI's Linux torch is the CUDA build
        extra = os.environ.get("PIP_EXTRA_INDEX_URL")
        session.env["PIP_EXTRA_INDEX_URL"] = TORCH_CPU_INDEX + (f" {extra}" if extra else "")


@functools.cache
def _torch_cpu_index_resolves() -> bool:
    """Whether PyTorch's CPU wheel index can be reached (its host resolves within 10 s)."""
    try:
        return subprocess.run([sys.executable, "-c", f"import socket; socket.getaddrinfo({TORCH_CPU_HOST!r}, 443)"],
                              timeout=10, capture_output=True).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def _install(session: nox.Session, *requirements: str) -> None:
    """pip install with the constraints passed explicitly too (PIP_CONSTRAINT covers build envs)."""
    session.install("-c", str(CONSTRAINTS), *requirements)


def _pkg(name: str) -> str:
    """The package's folder as a pip requirement (the core with its ``report`` extra: tests plot)."""
    return str(ROOT / name) + ("[report]" if name == CORE else "")


def _declared_entry_points(package: str | Path) -> set[tuple[str, str]]:
    """``(group, name)`` of every ``nasplug.*`` entry point the package's pyproject declares."""
    path = Path(package) / "pyproject.toml" if not str(package).endswith(".toml") else Path(package)
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    groups = data.get("project", {}).get("entry-points", {})
    return {(group, name) for group, eps in groups.items() if group.startswith("nasplug.") for name in eps}


def _plugins(session: nox.Session) -> list[dict]:
    """``nasplug plugins --format json`` run in the session's venv (stderr left on the console)."""
    out = session.run("nasplug", "plugins", "--format", "json", silent=True, stderr=None)
    try:
        return json.loads(out)
    except (TypeError, json.JSONDecodeError) as exc:
        session.error(f"nasplug plugins --format json did not print JSON ({exc}): {out!r}")


def _assert_registered(session: nox.Session, package_dir: str | Path, dist: str) -> None:
    """Every entry point ``dist`` declares is listed by ``nasplug plugins``, from ``dist``,
    without a load error; and no installed plugin at all fails to load."""
    declared = _declared_entry_points(package_dir)
    listed = {(p["kind"], p["name"]): p for p in _plugins(session)}
    problems = []
    for group, name in sorted(declared):
        if group == "nasplug.hooks":  # hook plugins are loaded by pluggy, not listed as parts
            continue
        kind = _KIND_OF_GROUP.get(group)
        if kind is None:
            problems.append(f"{dist} declares entry point group {group!r}, which nasplug does not read")
            continue
        info = listed.get((kind, name))
        if info is None:
            problems.append(f"{kind} '{name}' ({group}) is not listed by nasplug plugins")
        elif info.get("error"):
            problems.append(f"{kind} '{name}' failed to load: {info['error']}")
        elif info.get("package") != dist:
            problems.append(f"{kind} '{name}' is listed from {info.get('package')!r}, expected {dist!r}")
    failures = [f"{p['kind']} '{p['name']}' ({p['package']}): {p['error']}" for p in listed.values() if p.get("error")]
    if problems or failures:
        session.error("plugin registration check failed:\n  " + "\n  ".join(problems + failures))
    session.log(f"{dist}: all {len(declared)} declared entry points load ({', '.join(n for _, n in sorted(declared))})")


#: nasplug's entry-point groups by kind (mirrors nasplug.core.registry.GROUPS; that module is not
#: importable in the noxfile's own interpreter).
_KIND_OF_GROUP = {
    "nasplug.spaces": "space", "nasplug.encoders": "encoder", "nasplug.predictors": "predictor",
    "nasplug.samplers": "sampler", "nasplug.proxies": "proxy", "nasplug.strategies": "strategy",
    "nasplug.objectives": "objective", "nasplug.executors": "executor", "nasplug.runs": "run",
    "nasplug.oneshot": "oneshot",
}


# --- the whole suite ---------------------------------------------------------------------------
@nox.session
def tests(session: nox.Session) -> None:
    """All five packages installed together; pytest over tests/ (posargs go to pytest)."""
    _setup(session)
    _install(session, *(_pkg(p) for p in PACKAGES), *TEST_TOOLS)
    session.run("pytest", "tests", *session.posargs)


# --- one package at a time ---------------------------------------------------------------------
#: What each package's tests use beyond the package itself (sibling packages for real spaces and
#: networks, libraries only the tests import). Installed only after the package was checked alone.
TEST_NEEDS: dict[str, list[str]] = {
    "nasplug-core": ["matplotlib", "torch"],
    "nasplug-spaces": ["networkx", "nasplug-proxies", "nasplug-search"],
    "nasplug-samplers": ["nasplug-spaces", "networkx"],
    "nasplug-proxies": ["nasplug-spaces", "nasplug-samplers"],
    "nasplug-search": ["nasplug-spaces", "nasplug-samplers"],
}


def _siblings(package: str) -> list[str]:
    """The nasplug packages ``package`` declares as dependencies (built from this repository,
    since they are not on a package index), transitively, dependencies first."""
    data = tomllib.loads((ROOT / package / "pyproject.toml").read_text(encoding="utf-8"))
    out: list[str] = []
    for requirement in data["project"].get("dependencies", []):
        name = requirement.split(">")[0].split("<")[0].split("=")[0].split("[")[0].strip()
        if name.startswith("nasplug-") and (ROOT / name).is_dir():
            out += [p for p in _siblings(name) + [name] if p not in out]
    return out

#: A predict run on the core's toy space with the GCN predictor: what ``pip install nasplug-core
#: nasplug-samplers`` must be able to run (torch and torch_geometric come from the samplers' own
#: dependencies).
TOY_PREDICT = """
kind = "predict"
seed = 0
[space]
name = "toy"
[sampler]
name = "coreset"
[predictor]
name = "gcn"
epochs = 5
[predict]
metric = "accuracy"
initial = 10
per_round = 10
rounds = 1
[store]
path = "toy.db"
"""


def _wheels(session: nox.Session, *packages: str) -> list[str]:
    """Build each package's wheel (no dependencies) into the session's tmp folder."""
    out = Path(session.create_tmp()) / "wheels"
    out.mkdir(exist_ok=True)
    for old in out.glob("*.whl"):
        old.unlink()
    for package in packages:
        session.run("python", "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(out), str(ROOT / package), silent=True)
    return [str(w) for w in sorted(out.glob("*.whl"))]


def _make_isolated(package: str, tests_dir: str):
    def isolated(session: nox.Session) -> None:
        _setup(session)
        packages = list(dict.fromkeys([CORE, *_siblings(package), package]))
        session.install("pip>=24")
        wheels = _wheels(session, *packages)
        _install(session, *wheels)  # the built wheels with their declared dependencies only
        _assert_registered(session, ROOT / package, package)
        if package != CORE:  # the core's own parts must still load next to the plugin
            _assert_registered(session, ROOT / CORE, CORE)
        session.run("nasplug", "--version")
        if package == "nasplug-samplers":
            config = Path(session.create_tmp()) / "toy-predict.toml"
            config.write_text(TOY_PREDICT)
            session.run("nasplug", "run", str(config), "--store", str(config.with_suffix(".db")))
        _install(session, *(_pkg(p) if p.startswith("nasplug-") else p for p in TEST_NEEDS[package]), *TEST_TOOLS)
        session.run("pytest", tests_dir, *session.posargs)

    alone = "nasplug-core alone" if package == CORE else f"{package} next to nasplug-core only"
    isolated.__doc__ = f"{alone}: its entry points load, {tests_dir} passes."
    isolated.__name__ = isolated.__qualname__ = f"isolated_{package.replace('-', '_')}"
    return isolated


for _package, _tests_dir in PACKAGES.items():
    nox.session(name=f"isolated-{_package}", tags=["isolated"])(_make_isolated(_package, _tests_dir))


# --- the part-combination matrix ---------------------------------------------------------------
def _combos(session: nox.Session, full: bool) -> None:
    _setup(session)
    args = list(session.posargs)
    if "full" in args:
        args.remove("full")
        full = True
    _install(session, *(_pkg(p) for p in PACKAGES), *TEST_TOOLS)
    if full:
        session.env["NASPLUG_FULL_COMBOS"] = "1"
        session.env["NASPLUG_COMBOS_REPORT"] = str(ROOT / "tests" / "combos" / "matrix_full.json")
        session.run("pytest", "tests/combos", *args)
    else:
        session.env["NASPLUG_FULL_COMBOS"] = "0"
        session.run("pytest", "tests/combos", "-m", "quick", *args)


@nox.session(tags=["quick"])
def combos(session: nox.Session) -> None:
    """Quick tier of the combination matrices (hand-listed and registry-generated; ``-- full`` for all)."""
    _combos(session, full=False)


@nox.session(name="combos-full", tags=["full"])
def combos_full(session: nox.Session) -> None:
    """Every combination: strategy x objective x space, sampler x predictor x encoder, proxy x space
    (NASPLUG_FULL_COMBOS=1); the summary goes to tests/combos/matrix_full.json."""
    _combos(session, full=True)


# --- an out-of-tree plugin ---------------------------------------------------------------------
@nox.session(name="third-party")
def third_party(session: nox.Session) -> None:
    """examples/nasplug-example-sampler installed (non-editable) next to the five packages."""
    _setup(session)
    dist = "nasplug-example-sampler"
    _install(session, *(_pkg(p) for p in PACKAGES), str(EXAMPLE), *TEST_TOOLS)
    _assert_registered(session, EXAMPLE, dist)
    samplers = {p["name"]: p for p in _plugins(session) if p["kind"] == "sampler"}
    if samplers.get("greedy-predicted", {}).get("package") != dist:
        session.error(f"nasplug plugins does not list sampler 'greedy-predicted' from {dist}: {samplers}")
    listing = ", ".join(f"{name} ({info['package']})" for name, info in sorted(samplers.items()))
    session.log(f"samplers: {listing}")
    # The plugin's own tests (nasplug's SamplerConformance, reused), from the plugin's folder so
    # that its pyproject, not the monorepo's, configures pytest.
    with session.chdir(EXAMPLE):
        session.run("pytest", "tests", *session.posargs)
    tmp = Path(session.create_tmp()).resolve()
    store = tmp / "x.db"
    store.unlink(missing_ok=True)
    session.run("nasplug", "run", str(EXAMPLE / "predict.toml"), "--store", str(store))
    shown = json.loads(session.run("nasplug", "show", "1", "--store", str(store), "--format", "json",
                                   silent=True, stderr=None))
    rounds = shown.get("rounds", [])
    if len(rounds) != 4:
        session.error(f"expected 4 rounds (initial + 3) in run 1 of {store}, found {len(rounds)}")
    taus = [r["metrics"]["kendall_tau"] for r in rounds]
    labels = [int(r["metrics"]["labels"]) for r in rounds]
    if labels != [10, 20, 30, 40]:
        session.error(f"expected 10, 20, 30, 40 labels over the rounds, found {labels}")
    session.log(f"predict run with greedy-predicted: labels {labels}, kendall_tau {[round(t, 3) for t in taus]}")


@nox.session(name="third-party-space")
def third_party_space(session: nox.Session) -> None:
    """examples/nasplug-example-space installed (non-editable) next to the five packages: listed by
    ``nasplug plugins``, its own conformance tests pass, and a search run in it finishes."""
    _setup(session)
    dist = "nasplug-example-space"
    _install(session, *(_pkg(p) for p in PACKAGES), str(EXAMPLE_SPACE), *TEST_TOOLS)
    _assert_registered(session, EXAMPLE_SPACE, dist)
    spaces = {p["name"]: p for p in _plugins(session) if p["kind"] == "space"}
    if spaces.get("staged-cnn", {}).get("package") != dist:
        session.error(f"nasplug plugins does not list space 'staged-cnn' from {dist}: {sorted(spaces)}")
    with session.chdir(EXAMPLE_SPACE):
        session.run("pytest", "tests", *session.posargs)
    tmp = Path(session.create_tmp()).resolve()
    store = tmp / "space.db"
    store.unlink(missing_ok=True)
    session.run("nasplug", "run", str(EXAMPLE_SPACE / "search.toml"), "--store", str(store))
    shown = json.loads(session.run("nasplug", "show", "1", "--store", str(store), "--format", "json",
                                   silent=True, stderr=None))
    if shown.get("result", {}).get("queries") != 30:
        session.error(f"expected a finished 30-query search in {store}, got {shown.get('result')}")


# --- static checks -----------------------------------------------------------------------------
@nox.session
def lint(session: nox.Session) -> None:
    """ruff, correctness only: syntax errors, undefined names, invalid comparisons, unused imports
    and variables, redefinitions. No style rules."""
    _setup(session)
    _install(session, "ruff")
    targets = [str(ROOT / p / "src") for p in PACKAGES] + [str(EXAMPLE), "tests", "bench", "noxfile.py"]
    session.run("ruff", "check", "--select", "E9,F63,F7,F82,F401,F811,F841", *targets, *session.posargs)
