"""A trained supernet as an objective (``search`` runs) and as a proxy (``score`` runs).

``objective = {name = "supernet", from_run = 3}`` scores an architecture by its validation
accuracy with weights inherited from the supernet that ``oneshot`` run 3 trained (its last
checkpoint), after BN recalibration, on that run's own validation split. The run is looked up in
the store of the run being built (or ``store = "path.db"``). REA, DSM-NAS, random search or any
other strategy can then search over the supernet; a score run measures how well the supernet
ranks architectures against a benchmark.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Hashable

import attrs

from nasplug.core.errors import ConfigError, StoreError
from nasplug.core.interfaces.capabilities import HasSupernet
from nasplug.core.interfaces.objective import Evaluation, Objective
from nasplug.core.interfaces.proxy import Proxy, ProxyContext
from nasplug.core.options import number_in, optional_string
from nasplug.core.store import current_store


def _run_id(_inst: Any, attribute: attrs.Attribute, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{attribute.name}: expected the id of a finished oneshot run (an integer >= 1), got {value!r}")


@attrs.frozen
class SupernetScoreConfig:
    """``from_run``: the oneshot run; ``store``: its store (default: this run's store);
    ``eval_images`` / ``bn_batches``: override that run's evaluation settings."""

    from_run: int = attrs.field(default=None, validator=_run_id)
    store: str | None = attrs.field(default=None, validator=optional_string)
    eval_images: int | None = attrs.field(default=None, validator=number_in(1, None, optional=True))
    bn_batches: int | None = attrs.field(default=None, validator=number_in(1, None, optional=True))


@functools.lru_cache(maxsize=4)
def _load(store_path: str, run_id: int, eval_images: int | None, bn_batches: int | None) -> Any:
    """The evaluator over the last checkpoint of oneshot run ``run_id`` (cached per process)."""
    import torch

    from nasplug.core.config import RunConfig
    from nasplug.core.datasets import training_data
    from nasplug.core.oneshot.evaluate import SupernetEvaluator
    from nasplug.core.registry import registry
    from nasplug.core.oneshot.checkpoints import checkpoint_path
    from nasplug.core.store import Store

    with Store(store_path, read_only=True) as store:
        record = store.run(run_id)
    if record.kind != "oneshot":
        raise StoreError(f"run {run_id} in {store_path} is a {record.kind} run; from_run must name a oneshot run")
    config = RunConfig.from_dict(record.config, registry=registry())
    path = checkpoint_path(store_path, run_id)
    if not path.is_file():
        raise StoreError(f"oneshot run {run_id} in {store_path} has no checkpoint ({path.name}); resume it until an epoch finishes")
    space = registry().create("space", config.parts["space"], section="space")
    o = config.options
    data = training_data(config.data.path, config.data.split, config.seed, augment=False)
    supernet = space.supernet(num_classes=len(data.classes), **o.supernet)
    state = torch.load(path, map_location=config.data.device, weights_only=True)
    supernet.load_state_dict(state["supernet"])
    supernet.to(config.data.device).eval()
    evaluator = SupernetEvaluator(supernet, data, bn_batches=bn_batches or o.bn_batches, batch_size=o.eval_batch_size,
                                  eval_images=eval_images or o.eval_images, device=config.data.device)
    evaluator.trained_epochs = int(state["epoch"]) + 1
    evaluator.space_table = dict(config.parts["space"])
    evaluator.space_type = type(space)
    return evaluator


class _FromOneShotRun:
    """Resolves ``from_run`` and ``store`` when built; loads the supernet on first use."""

    config: SupernetScoreConfig
    space: Any

    def _resolve(self, who: str) -> None:
        c = self.config
        if c.from_run is None:
            raise ConfigError(f"{who} 'supernet' needs from_run = <id of a oneshot run>")
        store = c.store or current_store.get()
        if store is None:
            raise ConfigError(f"{who} 'supernet' cannot tell which store holds run {c.from_run}; set store = \"path.db\"")
        if not Path(store).is_file():
            raise ConfigError(f"{who} 'supernet': store {store} not found; set store to the oneshot run's store")
        self.store_path = str(Path(store).resolve())

    def evaluator(self) -> Any:
        c = self.config
        return _load(self.store_path, c.from_run, c.eval_images, c.bn_batches)

    def check_run(self) -> None:
        evaluator = self.evaluator()
        if type(self.space) is not evaluator.space_type:
            raise ConfigError(f"oneshot run {self.config.from_run} trained a supernet of space "
                              f"'{evaluator.space_table.get('name')}' ({evaluator.space_type.__name__}), not "
                              f"{type(self.space).__name__}; search the space it was trained on")


class SupernetObjective(_FromOneShotRun, Objective):
    """Validation accuracy with weights inherited from a trained supernet (after BN recalibration)."""

    Config = SupernetScoreConfig
    requires = (HasSupernet,)

    def __init__(self, config: Any = None, **deps: Any) -> None:
        super().__init__(config, **deps)
        self._resolve("objective")

    def check(self) -> None:
        self.check_run()

    def evaluate(self, arch: Hashable) -> Evaluation:
        evaluator = self.evaluator()
        return Evaluation(value=float(evaluator.accuracy(arch)), info={"images": evaluator.images})


class SupernetProxy(_FromOneShotRun, Proxy):
    """Supernet validation accuracy with inherited weights, as a proxy (``from_run``)."""

    Config = SupernetScoreConfig
    requires = (HasSupernet,)
    direction = "max"
    cost = "expensive"
    needs_data = False
    needs_labels = False

    def __init__(self, config: Any = None, *, space: Any) -> None:
        super().__init__(config, space=space)
        self._resolve("proxy")
        self.check_run()

    def score(self, arch: Hashable, ctx: ProxyContext | None) -> float:
        return float(self.evaluator().accuracy(arch))
