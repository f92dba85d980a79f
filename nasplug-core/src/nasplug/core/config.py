"""Run configuration: a TOML file or the same dict from Python, validated before anything runs.

Layout (every table is optional unless the run kind needs it)::

    kind = "search"            # search | predict | score
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
part's own ``Config`` when the run builds it. The run-kind tables are validated here.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import json
import tomllib
from pathlib import Path
from typing import Any, Mapping

import attrs

from nasplug.core.errors import ConfigError
from nasplug.core.options import (
    build_config, non_negative_int, number_in, one_of, optional_positive_int, optional_string,
    positive_int, string_list,
)

KINDS = ("search", "predict", "score", "tune")
PART_TABLES = {"search": ("strategy", "objective"), "predict": ("sampler", "predictor"), "score": ("proxy",), "tune": ("proxy",)}
COMMON_TABLES = ("space", "benchmark", "store", "executor", "data")
TOP_KEYS = ("kind", "seed", "seeds", "name")
#: Tables that do not change results, left out of the config hash (resume may change them).
NON_RESULT_TABLES = ("store", "executor", "name")


def _int_list(_inst: Any, attribute: attrs.Attribute, value: Any) -> None:
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in value):
        raise ValueError(f"{attribute.name}: expected a list of integers >= 1, got {value!r}")


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


@attrs.frozen
class DataOptions:
    """An image batch for data-hungry proxies (see :mod:`nasplug.core.data`): ``source`` is
    ``"auto"`` (npz file or image folder, from ``path``), ``"npz"``, ``"folder"``, ``"dataset"``
    (``path = "package.module:attribute"``) or ``"sample"`` (built-in photographs, no path);
    ``image_size`` resizes folder/sample images; ``device`` is where proxies run ("cpu", "cuda")."""

    path: str | None = attrs.field(default=None, validator=optional_string)
    batch_size: int = attrs.field(default=16, validator=positive_int)
    num_classes: int | None = attrs.field(default=None, validator=optional_positive_int)
    source: str = attrs.field(default="auto", validator=one_of("auto", "npz", "folder", "dataset", "sample"))
    image_size: int = attrs.field(default=32, validator=positive_int)
    device: str = attrs.field(default="cpu", validator=optional_string)


@attrs.frozen
class SearchOptions:
    """Budget and reporting of a search run. A query is one new evaluation of the objective;
    proposing an architecture already evaluated in the run costs nothing and is answered from the
    run's own record. ``report`` names benchmark metrics looked up for the best architecture."""

    queries: int | None = attrs.field(default=100, validator=optional_positive_int)
    seconds: float | None = attrs.field(default=None, validator=number_in(0, None, optional=True))
    wall_seconds: float | None = attrs.field(default=None, validator=number_in(0, None, optional=True))
    batch_size: int = attrs.field(default=1, validator=positive_int)
    report: list[str] = attrs.field(factory=list, validator=string_list)
    max_proposals: int | None = attrs.field(default=None, validator=optional_positive_int)

    def __attrs_post_init__(self) -> None:
        if self.queries is None and self.seconds is None and self.wall_seconds is None:
            raise ValueError("queries: expected a budget; set search.queries, search.seconds or search.wall_seconds, got none")


@attrs.frozen
class PredictOptions:
    """A predict run labels ``initial`` architectures (uniformly at random, or by the sampler
    when ``initial_sampler = "sampler"``), then ``rounds`` rounds of ``per_round`` labels chosen
    by the sampler, retraining the predictor and scoring it on every unlabelled pool member after
    each round. ``pool_size`` draws a random pool from the benchmark (default: all of it)."""

    metric: str = attrs.field(default="cifar10_valid_val", validator=optional_string)
    initial: int = attrs.field(default=10, validator=positive_int)
    per_round: int = attrs.field(default=10, validator=positive_int)
    rounds: int = attrs.field(default=5, validator=non_negative_int)
    top_k: list[int] = attrs.field(factory=lambda: [10, 50], validator=_int_list)
    pool_size: int | None = attrs.field(default=None, validator=optional_positive_int)
    initial_sampler: str = attrs.field(default="random", validator=one_of("random", "sampler"))

    @property
    def total_labels(self) -> int:
        return self.initial + self.per_round * self.rounds


def _archs_value(_inst: Any, attribute: attrs.Attribute, value: Any) -> None:
    ok = value == "all" or (isinstance(value, int) and not isinstance(value, bool) and value >= 1)
    ok = ok or (isinstance(value, list) and len(value) > 0 and all(isinstance(v, str) for v in value))
    if not ok:
        raise ValueError(f"{attribute.name}: expected an integer >= 1, \"all\" or a list of architecture strings, got {value!r}")


@attrs.frozen
class ScoreOptions:
    """A score run evaluates the proxy on ``archs``: a number of distinct random architectures,
    ``"all"``, or a list of architecture strings; where a benchmark is available it correlates the
    scores with each of ``metrics``."""

    archs: int | str | list[str] = attrs.field(default=1000, validator=_archs_value)
    metrics: list[str] = attrs.field(factory=list, validator=string_list)
    top_percent: float = attrs.field(default=10.0, validator=number_in(0.01, 100))


def _tune_archs(_inst: Any, attribute: attrs.Attribute, value: Any) -> None:
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= 3
    ok = ok or (isinstance(value, list) and len(value) >= 3 and all(isinstance(v, str) for v in value))
    if not ok:
        raise ValueError(f"{attribute.name}: expected an integer >= 3 or a list of at least 3 architecture strings, got {value!r}")


@attrs.frozen
class TuneOptions:
    """A tune run searches the proxy's own configuration (Discrete Proxy Search, Eproxy paper
    Sec. 2.2) by regularised evolution: ``population`` random configurations, then children of
    the best of ``sample`` drawn from the latest ``population``, each field mutated with
    ``mutation_probability``, until ``configurations`` have been evaluated. A configuration's
    fitness is the Spearman correlation, over ``archs`` benchmarked architectures, between the
    proxy's direction-adjusted scores and ``metric``. ``batch_size`` children are proposed per
    generation (1: the paper's sequential evolution). ``include_base``: the first member of the
    initial population is the ``[proxy]`` table's own configuration instead of a random one, so
    the tuned result never ranks the tuning architectures worse than the untuned proxy (off by
    default: the paper's initial population is all random)."""

    population: int = attrs.field(default=40, validator=positive_int)
    sample: int = attrs.field(default=10, validator=positive_int)
    configurations: int = attrs.field(default=200, validator=positive_int)
    mutation_probability: float = attrs.field(default=0.2, validator=number_in(0, 1))
    archs: int | list[str] = attrs.field(default=20, validator=_tune_archs)
    metric: str = attrs.field(default="cifar10_valid_val", validator=optional_string)
    batch_size: int = attrs.field(default=1, validator=positive_int)
    include_base: bool = attrs.field(default=False, validator=attrs.validators.instance_of(bool))

    def __attrs_post_init__(self) -> None:
        if self.sample > self.population:
            raise ValueError(f"sample: expected at most population ({self.population}), got {self.sample}")
        if self.metric is None:
            raise ValueError("metric: expected the benchmark metric to correlate with, got None")


KIND_OPTIONS: dict[str, type] = {"search": SearchOptions, "predict": PredictOptions, "score": ScoreOptions,
                                 "tune": TuneOptions}


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

    @property
    def config_hash(self) -> str:
        """Hash of everything that determines the results (not the store or executor)."""
        relevant = {k: v for k, v in self.raw.items() if k not in NON_RESULT_TABLES}
        return hashlib.sha256(json.dumps(relevant, sort_keys=True, default=str).encode()).hexdigest()[:16]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "config") -> "RunConfig":
        if not isinstance(data, Mapping):
            raise ConfigError(f"{source} must be a table of options, not {type(data).__name__}")
        raw = copy.deepcopy(dict(data))
        kind = raw.get("kind")
        if kind not in KINDS:
            raise ConfigError(f"config key 'kind' must be one of {', '.join(KINDS)}, got {kind!r}; add e.g. kind = \"search\" at the top of {source}")
        allowed = set(TOP_KEYS) | set(COMMON_TABLES) | set(PART_TABLES[kind]) | {kind}
        for key in raw:
            if key not in allowed:
                other = [k for k, tables in PART_TABLES.items() if key in tables or key == k]
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
        name = raw.get("name", kind)
        if not isinstance(name, str) or not name:
            raise ConfigError(f"config key 'name' must be a non-empty string, got {name!r}")
        parts: dict[str, dict[str, Any]] = {}
        for table in ("space", *PART_TABLES[kind]):
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
            options=build_config(KIND_OPTIONS[kind], table(kind), kind),
            benchmark=build_config(BenchmarkOptions, table("benchmark"), "benchmark"),
            store=build_config(StoreOptions, table("store"), "store"),
            data=build_config(DataOptions, table("data"), "data"),
            seeds=seeds,
        )


def load_config(path: str | Path) -> RunConfig:
    """Read and validate a TOML run configuration."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} not found; give the path of a TOML run configuration")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML in {path}: {exc}; fix the syntax at that line") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not UTF-8 text; save the config as UTF-8 TOML") from None
    return RunConfig.from_dict(data, source=str(path))
