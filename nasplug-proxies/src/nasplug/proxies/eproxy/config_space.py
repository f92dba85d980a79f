"""The Discrete Proxy Search space over Eproxy configurations (paper Sec. 2.2, Fig. 4;
docs/methods/eproxy.md 2.2) with random sampling and per-field mutation.

A configuration is a plain dict of :class:`~nasplug.proxies.eproxy.proxy.EProxyConfig` options, so
the tuned result is directly a proxy table (TOML-able, stored with the tune run). As in the
authors' code, all three branch slots are always generated and mutated, and only the first
``branches`` are used; this keeps the genes of inactive branches alive for later mutations of
``branches``.

- global: ``learning_rate`` in {0.5, 0.6, ..., 1.5}, ``flops_coefficient`` (alpha) in {-0.5, ...,
  0.5}, ``branches`` in {1, 2, 3}, ``init_net`` and ``init_barrier`` in 4 schemes;
- per branch slot: the feature set (a mask over 5 features, each on with probability 0.2 when
  sampled), transform and barrier kernel in {1, 3, 7}, transform channels (c_mid) and barrier
  channels (c_out) in {16, 32, ..., 512}, augment level in {0.5, 1, 1.5, 2}.

Mutation resamples each global field, each per-slot field and flips each feature bit
independently with the given probability (0.2 in the paper).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from nasplug.proxies.eproxy.model import INITS
from nasplug.proxies.eproxy.targets import FEATURES

LEARNING_RATES: tuple[float, ...] = tuple(round(0.5 + 0.1 * i, 1) for i in range(11))
FLOPS_COEFFICIENTS: tuple[float, ...] = tuple(round(-0.5 + 0.1 * i, 1) for i in range(11))
BRANCHES: tuple[int, ...] = (1, 2, 3)
KERNELS: tuple[int, ...] = (1, 3, 7)
CHANNELS: tuple[int, ...] = (16, 32, 64, 128, 256, 512)
LEVELS: tuple[float, ...] = (0.5, 1.0, 1.5, 2.0)
#: Branch slots always generated (the deepest, middle and earliest stage).
SLOTS = 3
#: Probability of each feature bit being on in a sampled configuration (authors: ``rand > 0.8``).
FEATURE_PROBABILITY = 0.2

GLOBAL_CHOICES: dict[str, tuple[Any, ...]] = {
    "learning_rate": LEARNING_RATES, "flops_coefficient": FLOPS_COEFFICIENTS, "branches": BRANCHES,
    "init_net": INITS, "init_barrier": INITS,
}
SLOT_CHOICES: dict[str, tuple[Any, ...]] = {
    "transform_kernel": KERNELS, "barrier_kernel": KERNELS, "transform_channels": CHANNELS,
    "barrier_channels": CHANNELS, "levels": LEVELS,
}


def _pick(choices: tuple[Any, ...], rng: np.random.Generator) -> Any:
    value = choices[int(rng.integers(len(choices)))]
    return value.item() if hasattr(value, "item") else value


def _features(mask: list[bool]) -> list[str]:
    return [f for f, on in zip(FEATURES, mask) if on]


class EproxyTuningSpace:
    """The DPS space: ``sample``, ``mutate`` and ``encode`` on option dicts."""

    def size(self) -> int:
        """The number of distinct configurations (inactive slots counted)."""
        n = 1
        for choices in GLOBAL_CHOICES.values():
            n *= len(choices)
        per_slot = 2 ** len(FEATURES)
        for choices in SLOT_CHOICES.values():
            per_slot *= len(choices)
        return n * per_slot ** SLOTS

    def sample(self, rng: np.random.Generator) -> dict[str, Any]:
        """A configuration drawn as the authors do (uniform fields, sparse feature masks)."""
        config: dict[str, Any] = {k: _pick(v, rng) for k, v in GLOBAL_CHOICES.items()}
        config["features"] = [_features(list(rng.random(len(FEATURES)) < FEATURE_PROBABILITY)) for _ in range(SLOTS)]
        for key, choices in SLOT_CHOICES.items():
            config[key] = [_pick(choices, rng) for _ in range(SLOTS)]
        return config

    def mutate(self, config: dict[str, Any], rng: np.random.Generator, probability: float) -> dict[str, Any]:
        """A copy of ``config`` with every field resampled (feature bits flipped) independently
        with ``probability``; draws in a fixed order so the result depends on the seed alone."""
        child = json.loads(json.dumps(config))
        for key, choices in GLOBAL_CHOICES.items():
            if rng.random() < probability:
                child[key] = _pick(choices, rng)
        for slot in range(SLOTS):
            mask = [f in child["features"][slot] for f in FEATURES]
            for j in range(len(FEATURES)):
                if rng.random() < probability:
                    mask[j] = not mask[j]
            child["features"][slot] = _features(mask)
        for slot in range(SLOTS):
            for key, choices in SLOT_CHOICES.items():
                if rng.random() < probability:
                    child[key][slot] = _pick(choices, rng)
        return child

    def from_options(self, options: Any) -> dict[str, Any]:
        """An :class:`EProxyConfig` (e.g. the untuned defaults) as a configuration of this space:
        its global fields as they are, its per-branch lists padded to the three slots with their
        last entry (inactive slots, which later mutations of ``branches`` may switch on)."""
        config: dict[str, Any] = {key: getattr(options, key) for key in GLOBAL_CHOICES}
        for key in ("features", *SLOT_CHOICES):
            values = [json.loads(json.dumps(v)) for v in getattr(options, key)][:SLOTS]
            config[key] = values + [values[-1]] * (SLOTS - len(values))
        return config

    def encode(self, config: dict[str, Any]) -> str:
        """A stable string id of ``config`` (sorted JSON)."""
        return json.dumps(config, sort_keys=True, separators=(",", ":"))

    def decode(self, key: str) -> dict[str, Any]:
        """The configuration ``encode`` turned into ``key``."""
        return json.loads(key)
