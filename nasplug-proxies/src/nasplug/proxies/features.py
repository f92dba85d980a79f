"""Zero-cost proxy scores as predictor features (NAS-Bench-Suite-Zero, Krishnakumar et al.,
NeurIPS 2022): an encoding with one column per proxy appended.

The ``proxy_features`` encoder concatenates a base encoding (``base``, any registered encoder;
none when ``base = ""``) with each proxy's fitness (higher is better), passed through the
symmetric log ``sign(x) * log(1 + |x|)`` so that proxies whose scores span orders of magnitude
(synflow) do not swamp an MLP (our choice; tree models are unaffected by it). A non-finite score
becomes 0. Predictors take it through their ``features`` option, e.g. ``features = ["encoding",
"synflow", "naswot"]`` on ``mlp`` or ``sklearn``.

Scores are computed once per (proxy configuration, image batch, seed, architecture) and kept in
a SQLite file, ``$NASPLUG_CACHE/proxy_scores.sqlite`` (default ``~/.cache/nasplug``), so every
seed, predictor and run that asks again reads them back.
"""

from __future__ import annotations

import hashlib
import json
import math
import sqlite3
from typing import Any, Hashable, Sequence

import attrs
import numpy as np

from nasplug.core.interfaces.encoder import Encoder
from nasplug.core.options import boolean, build_config, non_negative_int, part_spec_list, spec_name, table

#: Scores computed between two writes to the on-disk cache.
SAVE_EVERY = 32


def _base(_inst: Any, attribute: attrs.Attribute, value: Any) -> None:
    if not (isinstance(value, str) or (isinstance(value, dict) and "name" in value)):
        raise ValueError(f"{attribute.name}: expected an encoder name, a table with 'name', or \"\" for none, got {value!r}")


@attrs.frozen
class ProxyFeaturesConfig:
    """``base``: the encoding the proxy columns are appended to (``""``: proxies only);
    ``proxies``: names or tables; ``data``: the image batch (as the run's ``[data]``) for proxies
    that need images; ``seed``: the proxies' context seed; ``cache``: keep scores on disk."""

    base: Any = attrs.field(default="onehot", validator=_base)
    proxies: list = attrs.field(factory=lambda: ["synflow", "naswot"], validator=part_spec_list)
    data: dict | None = attrs.field(default=None, validator=table(optional=True))
    seed: int = attrs.field(default=0, validator=non_negative_int)
    cache: bool = attrs.field(default=True, validator=boolean)


class ScoreCache:
    """Proxy scores on disk, keyed by a digest of the proxy's configuration and the architecture."""

    def __init__(self) -> None:
        from nasplug.core.datasets import cache_dir

        folder = cache_dir()
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / "proxy_scores.sqlite"
        with self._connect() as con:
            con.execute("CREATE TABLE IF NOT EXISTS scores (proxy TEXT, arch TEXT, score REAL, PRIMARY KEY (proxy, arch))")

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30)

    def get(self, proxy: str, archs: Sequence[str]) -> dict[str, float]:
        out: dict[str, float] = {}
        with self._connect() as con:
            for start in range(0, len(archs), 500):
                chunk = list(archs[start:start + 500])
                rows = con.execute(f"SELECT arch, score FROM scores WHERE proxy = ? AND arch IN ({','.join('?' * len(chunk))})",
                                   [proxy, *chunk]).fetchall()
                out.update((a, math.nan if s is None else float(s)) for a, s in rows)
        return out

    def put(self, proxy: str, scores: dict[str, float]) -> None:
        with self._connect() as con:
            con.executemany("INSERT OR REPLACE INTO scores VALUES (?, ?, ?)",
                            [(proxy, a, None if not math.isfinite(s) else s) for a, s in scores.items()])


def symlog(x: np.ndarray) -> np.ndarray:
    return np.sign(x) * np.log1p(np.abs(x))


class ProxyFeatures(Encoder):
    """A base encoding with zero-cost proxy columns appended (see the module docstring)."""

    Config = ProxyFeaturesConfig

    def __init__(self, config: Any = None, *, space: Any) -> None:
        super().__init__(config, space=space)
        from nasplug.core.config import DataOptions
        from nasplug.core.data import proxy_context
        from nasplug.core.registry import create_part
        from nasplug.core.seeding import derive_seed

        c = self.config
        self.base = create_part("encoder", c.base, "encoder.base", space=space) if c.base else None
        data = build_config(DataOptions, c.data, "encoder.data")
        self.proxies = []
        for i, spec in enumerate(c.proxies):
            proxy = create_part("proxy", spec, f"encoder.proxies[{i}]", space=space)
            context = proxy_context(proxy, data, derive_seed(c.seed, "proxy"), spec_name(spec))
            key = json.dumps({"space": type(space).__name__, "space_config": repr(getattr(space, "config", None)), "proxy": spec, "data": attrs.asdict(data), "seed": c.seed},
                             sort_keys=True, default=str)
            self.proxies.append((proxy, context, hashlib.sha256(key.encode()).hexdigest()[:24]))
        self.cache = ScoreCache() if c.cache else None
        self.memory: dict[tuple[str, str], float] = {}

    def scores(self, archs: Sequence[Hashable]) -> np.ndarray:
        """``(len(archs), proxies)`` fitness values (NaN where a score is not finite)."""
        keys = [self.space.canonical(a) for a in archs]
        out = np.empty((len(archs), len(self.proxies)))
        for j, (proxy, context, digest) in enumerate(self.proxies):
            missing = sorted({k for k in keys if (digest, k) not in self.memory})
            if missing and self.cache is not None:
                for k, v in self.cache.get(digest, missing).items():
                    self.memory[(digest, k)] = v
                missing = [k for k in missing if (digest, k) not in self.memory]
            computed: dict[str, float] = {}
            by_key = dict(zip(keys, archs))
            for k in missing:
                score = float(proxy.score(by_key[k], context))
                computed[k] = proxy.fitness(score) if math.isfinite(score) else math.nan
                if len(computed) == SAVE_EVERY:  # a slow proxy interrupted keeps what it scored
                    self._keep(digest, computed)
                    computed = {}
            self._keep(digest, computed)
            out[:, j] = [self.memory[(digest, k)] for k in keys]
        return out

    def _keep(self, digest: str, computed: dict[str, float]) -> None:
        if computed and self.cache is not None:
            self.cache.put(digest, computed)
        for k, v in computed.items():
            self.memory[(digest, k)] = v

    def encode(self, archs: Sequence[Hashable]) -> np.ndarray:
        columns = np.nan_to_num(symlog(self.scores(archs)), nan=0.0, posinf=0.0, neginf=0.0)
        if self.base is None:
            return columns.astype(np.float32)
        return np.hstack([self.base.encode(archs), columns]).astype(np.float32)
