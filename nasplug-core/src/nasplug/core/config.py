"""Run configuration: a TOML file or the same dict from Python, validated before anything runs.

Layout (every table is optional unless the run kind needs it)::

    kind = "search"            # a run kind: search | predict | score | tune | any plugin of nasplug.runs
    seed = 0
    name = "my-run"
    [space]      name = "nb201"            # + the space's options
    [benchmark]  path = "..."              # default: $NASPLUG_BENCHMARKS
    [store]      path = "nasplug.db"
    [executor]   name = "local"            # + options
    [data]       path = "images.npz"       # image batch for proxies that need data (or source = "sample")
    # search:  [strategy] [objective] [search]
    # predict: [sampler] [predictor] [predict]
    # score:   [proxy] [score]
    # tune:    [proxy] [tune]

Part tables (``space``, ``strategy``, ...) hold ``name`` plus that part's options, validated by the
part's own ``Config`` when the run builds it. Which part tables a kind needs and what its own
table (``[search]``, ...) holds are declared by the run kind's class (``tables`` and ``Config``),
found through the registry like any other part.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import json
import tomllib
from pathlib import Path
from typing import Any, Mapping, Sequence

import attrs

from nasplug.core.errors import ConfigError, NasplugError
from nasplug.core.options import (
    boolean, build_config, non_negative_int, one_of, optional_positive_int, optional_string, positive_int,
)

COMMON_TABLES = ("space", "benchmark", "store", "executor", "data")
TOP_KEYS = ("kind", "seed", "seeds", "name", "fail_share")
#: Tables that do not change results, left out of the config hash (resume may change them).
NON_RESULT_TABLES = ("store", "executor", "name", "fail_share")


def parse_seeds(value: Any, key: str = "seeds") -> tuple[int, ...]:
    """Seeds of a multi-seed run: a list of integers >= 0, or a string of ranges and integers
    (``"0-19"``, ``"0-4,10"``); each distinct, in the order given."""
    seeds: list[int] = []
    if isinstance(value, str):
        try:
            for part in filter(None, (p.strip() for p in value.split(","))):
                low, _, high = part.partition("-")
                seeds.extend(range(int(low), int(high) + 1) if high else [int(low)])
        except ValueError:
            raise ConfigError(f"config key '{key}' must be integers and ranges like \"0-19\" or \"0-4,10\", got {value!r}") from None
    elif isinstance(value, (list, tuple)) and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        seeds = list(value)
    else:
        raise ConfigError(f"config key '{key}' must be a list of integers >= 0 or a string like \"0-19\", got {value!r}")
    if not seeds or min(seeds) < 0:
        raise ConfigError(f"config key '{key}' must name at least one seed, all >= 0, got {value!r}")
    if len(set(seeds)) != len(seeds):
        raise ConfigError(f"config key '{key}' repeats a seed ({value!r}); list each seed once")
    return tuple(seeds)


@attrs.frozen
class BenchmarkOptions:
    path: str | None = attrs.field(default=None, validator=optional_string)


@attrs.frozen
class StoreOptions:
    path: str = attrs.field(default="nasplug.db", validator=optional_string)


def _split(_inst: Any, attribute: attrs.Attribute, value: Any) -> None:
    if value is None:
        return
    if (not isinstance(value, (list, tuple)) or len(value) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in value)):
        raise ValueError(f"{attribute.name}: expected [train, valid] image counts >= 1 (e.g. [5000, 5000]), got {value!r}")


@attrs.frozen
class DataOptions:
    """An image batch for data-hungry proxies (see :mod:`nasplug.core.data`): ``source`` is
    ``"auto"`` (npz file or image folder, from ``path``), ``"npz"``, ``"folder"``, ``"dataset"``
    (``path`` names a dataset registered with :func:`nasplug.core.data.register_dataset` or a
    ``nasplug.datasets`` entry point; a config never imports code) or ``"sample"`` (built-in photographs, no path);
    ``image_size`` resizes folder/sample images; ``device`` is where proxies run ("cpu", "cuda").

    For runs that train networks (``oneshot``; see :mod:`nasplug.core.datasets`): ``path`` may
    also be a zip of an image folder; ``split = [train, valid]`` takes class-balanced, seeded
    splits from its training images; ``augment`` switches random crop (padding 4) and flip on
    the train split; ``workers`` is the number of ``DataLoader`` worker processes."""

    path: str | None = attrs.field(default=None, validator=optional_string)
    batch_size: int = attrs.field(default=16, validator=positive_int)
    num_classes: int | None = attrs.field(default=None, validator=optional_positive_int)
    source: str = attrs.field(default="auto", validator=one_of("auto", "npz", "folder", "dataset", "sample"))
    image_size: int = attrs.field(default=32, validator=positive_int)
    device: str = attrs.field(default="cpu", validator=optional_string)
    split: list[int] | None = attrs.field(default=None, validator=_split)
    augment: bool = attrs.field(default=True, validator=boolean)
    workers: int = attrs.field(default=0, validator=non_negative_int)


@attrs.frozen
class RunConfig:
    """A validated run description; ``raw`` is the dict it came from (stored with the run)."""

    kind: str
    seed: int
    name: str
    raw: dict[str, Any]
    parts: dict[str, dict[str, Any]]
    options: Any
    benchmark: BenchmarkOptions
    store: StoreOptions
    data: DataOptions
    #: A multi-seed run's seeds (``seeds = [0, 1, 2]`` or ``"0-19"``): see :mod:`nasplug.core.runs.seeds`.
    seeds: tuple[int, ...] | None = None
    #: The run ends ``failed`` (exit status 2) when at least this share of its evaluations failed
    #: (default 1: only when every one did).
    fail_share: float = 1.0

    @property
    def config_hash(self) -> str:
        """Hash of everything that determines the results (not the store or executor)."""
        relevant = {k: v for k, v in self.raw.items() if k not in NON_RESULT_TABLES}
        return hashlib.sha256(json.dumps(relevant, sort_keys=True, default=str).encode()).hexdigest()[:16]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "config", registry: Any = None) -> "RunConfig":
        """Validate ``data``; the run kind (and what it needs) is looked up in ``registry``
        (default: the active one, see :func:`nasplug.core.registry.registry`)."""
        from nasplug.core.registry import registry as active_registry

        if not isinstance(data, Mapping):
            raise ConfigError(f"{source} must be a table of options, not {type(data).__name__}")
        reg = registry or active_registry()
        raw = copy.deepcopy(dict(data))
        kind = raw.get("kind")
        kinds = reg.names("run")
        if not isinstance(kind, str) or kind not in kinds:
            close = difflib.get_close_matches(kind, kinds, n=1) if isinstance(kind, str) else []
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise ConfigError(f"config key 'kind' must be one of {', '.join(kinds)}, got {kind!r}; {hint}add e.g. kind = \"search\" at the top of {source}")
        kind_class = reg.load("run", kind)
        tables = tuple(kind_class.tables)
        allowed = set(TOP_KEYS) | set(COMMON_TABLES) | set(tables) | {kind}
        for key in raw:
            if key not in allowed:
                other = [k for k in kinds if k == key or key in _tables_of(reg, k)]
                if other:
                    raise ConfigError(f"config table '{key}' belongs to {other[0]} runs, not {kind} runs; remove it or change 'kind'")
                close = difflib.get_close_matches(key, sorted(allowed), n=1)
                hint = f"did you mean '{close[0]}'?" if close else f"allowed: {', '.join(sorted(allowed))}"
                raise ConfigError(f"config key '{key}' is not recognised in {source}; {hint}")
        seed = raw.get("seed", 0)
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise ConfigError(f"config key 'seed' must be an integer >= 0, got {seed!r}")
        seeds = parse_seeds(raw["seeds"]) if "seeds" in raw else None
        if seeds is not None and "seed" in raw:
            raise ConfigError("config keys 'seed' and 'seeds' are both set; keep 'seeds' for a run per seed, or 'seed' for one run")
        fail_share = raw.get("fail_share", 1.0)
        if isinstance(fail_share, bool) or not isinstance(fail_share, (int, float)) or not 0.0 < fail_share <= 1.0:
            raise ConfigError(f"config key 'fail_share' must be a number in (0, 1] (the share of failed evaluations that fails the run), got {fail_share!r}")
        name = raw.get("name", kind)
        if not isinstance(name, str) or not name:
            raise ConfigError(f"config key 'name' must be a non-empty string, got {name!r}")
        parts: dict[str, dict[str, Any]] = {}
        for table in ("space", *tables):
            value = raw.get(table)
            if value is None:
                raise ConfigError(f"{kind} runs need a [{table}] table naming the {table}, e.g. [{table}] name = \"...\"; see 'nasplug plugins'")
            if isinstance(value, str):
                value = {"name": value}
            if not isinstance(value, Mapping) or not isinstance(value.get("name"), str):
                raise ConfigError(f"config table '{table}' needs a string key 'name' naming the {table}")
            parts[table] = dict(value)
        executor = raw.get("executor", {"name": "local"})
        parts["executor"] = {"name": executor} if isinstance(executor, str) else dict(executor)
        if not isinstance(parts["executor"].get("name", "local"), str):
            raise ConfigError("config key 'executor.name' must be a string naming an executor")
        parts["executor"].setdefault("name", "local")

        def table(key: str) -> Mapping[str, Any]:
            value = raw.get(key, {})
            if not isinstance(value, Mapping):
                raise ConfigError(f"config key '{key}' must be a table ([{key}]), got {value!r}")
            return value

        return cls(
            kind=kind, seed=seed, name=name, raw=raw, parts=parts,
            options=build_config(kind_class.Config, table(kind), kind),
            benchmark=build_config(BenchmarkOptions, table("benchmark"), "benchmark"),
            store=build_config(StoreOptions, table("store"), "store"),
            data=build_config(DataOptions, table("data"), "data"),
            seeds=seeds, fail_share=float(fail_share),
        )


def _tables_of(reg: Any, kind: str) -> tuple[str, ...]:
    try:
        return tuple(reg.load("run", kind).tables)
    except NasplugError:  # a broken run-kind plugin only loses its hint here
        return ()


def _override_value(text: str) -> Any:
    """A ``--set`` value read as a TOML value (``20``, ``0.5``, ``true``, ``[1, 2]``, ``"rea"``);
    anything that is not one is taken as a plain string (``--set strategy=rea``)."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def apply_overrides(data: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """``data`` with each ``KEY=VALUE`` of ``overrides`` set (dotted keys reach into tables; a part
    given by name, e.g. ``strategy = "rea"``, becomes ``{name = "rea"}`` before its option is set)."""
    out = copy.deepcopy(data)
    for item in overrides:
        key, sep, text = item.partition("=")
        path = [k.strip() for k in key.split(".")]
        if not sep or not all(path):
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE with a dotted key, e.g. --set search.queries=200")
        table = out
        for depth, part in enumerate(path[:-1]):
            node = table.get(part)
            if isinstance(node, str):
                node = {"name": node}
            elif node is None:
                node = {}
            elif not isinstance(node, dict):
                raise ConfigError(f"--set {item!r}: {'.'.join(path[:depth + 1])} is a value, not a table; set it directly")
            table[part] = node
            table = node
        table[path[-1]] = _override_value(text.strip())
    return out


def load_config(path: str | Path, *, registry: Any = None, overrides: Sequence[str] = ()) -> RunConfig:
    """Read and validate a TOML run configuration, with ``--set KEY=VALUE`` ``overrides`` applied
    first (they are validated like the file and stored with the run's config)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} not found; give the path of a TOML run configuration")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML in {path}: {exc}; fix the syntax at that line") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not UTF-8 text; save the config as UTF-8 TOML") from None
    if overrides:
        data = apply_overrides(data, overrides)
    return RunConfig.from_dict(data, source=str(path), registry=registry)
