"""``oneshot`` runs: train a weight-sharing supernet with a one-shot method plugin.

The run trains the space's supernet on the ``[data]`` train split for ``epochs`` (SGD with
momentum and a cosine schedule, NAS-Bench-201's one-shot settings by default), scores a fixed set
of ``eval_archs`` architectures with inherited weights on the validation split after every epoch
(and their Kendall tau / Spearman against ``rank_metrics`` of the benchmark when given), writes
the epoch's metrics to the store and a checkpoint (supernet, optimiser, schedule, method state)
next to the store, and at the end lets the method derive an architecture.

Resume: a killed run continues from the last checkpoint. The batches, augmentation and paths of a
step are drawn from ``(seed, epoch, step)`` alone, so the resumed run ends with bit-identical
weights to an uninterrupted one (on the same device and torch thread count).
"""

from __future__ import annotations

import itertools
import os
import time
from typing import Any

import attrs
import numpy as np

from nasplug.core.errors import ConfigError
from nasplug.core.interfaces.capabilities import Benchmarked, HasSupernet, require
from nasplug.core.metrics import kendall_tau, spearman
from nasplug.core.oneshot.checkpoints import checkpoint_path
from nasplug.core.options import (
    boolean, non_negative_int, number_in, one_of, part_spec, positive_int, string_list,
)
from nasplug.core.registry import create_part
from nasplug.core.runs.base import RunContext, RunKind
from nasplug.core.seeding import derive_rng


def _mapping(_inst: Any, attribute: attrs.Attribute, value: Any) -> None:
    if not isinstance(value, dict):
        raise ValueError(f"{attribute.name}: expected a table of supernet options (e.g. {{channels = 16}}), got {value!r}")


@attrs.frozen
class OneShotOptions:
    """The ``[oneshot]`` table. Training defaults are NAS-Bench-201's one-shot search settings
    (Dong & Yang 2020, ``configs/nas-benchmark/algos``): 50 epochs of batch 64, SGD lr 0.025
    cosine-annealed to 0.001, momentum 0.9, Nesterov, weight decay 5e-4, gradient clip 5.
    ``schedule_epochs``: the cosine schedule's length when it is not the run's (or a stage's)
    epochs, e.g. GAEA's NAS-Bench-201 searches stop after 25 epochs of a 50-epoch schedule.

    ``supernet``: options of the space's supernet (nb201: ``channels``, ``cells_per_stage``).
    ``eval_archs`` architectures (fixed by the seed) are scored after every epoch on
    ``eval_images`` validation images, with BN recalibrated on ``bn_batches`` training batches of
    ``eval_batch_size``; ``rank_metrics`` names benchmark metrics their ranking is compared with.
    ``derive`` lets the method pick an architecture at the end (SPOS's evolutionary search);
    ``report`` names benchmark metrics looked up for it, with the regret to the table's best
    (default: ``rank_metrics``)."""

    method: Any = attrs.field(default="spos", validator=part_spec)
    epochs: int = attrs.field(default=50, validator=positive_int)
    batch_size: int = attrs.field(default=64, validator=positive_int)
    lr: float = attrs.field(default=0.025, validator=number_in(0.0, None))
    min_lr: float = attrs.field(default=0.001, validator=number_in(0.0, None))
    momentum: float = attrs.field(default=0.9, validator=number_in(0.0, 1.0))
    nesterov: bool = attrs.field(default=True, validator=boolean)
    weight_decay: float = attrs.field(default=5e-4, validator=number_in(0.0, None))
    grad_clip: float | None = attrs.field(default=5.0, validator=number_in(0.0, None, optional=True))
    schedule: str = attrs.field(default="cosine", validator=one_of("cosine", "constant"))
    schedule_epochs: int | None = attrs.field(default=None, validator=number_in(1, None, optional=True))
    supernet: dict = attrs.field(factory=dict, validator=_mapping)
    eval_archs: int = attrs.field(default=20, validator=non_negative_int)
    eval_images: int | None = attrs.field(default=None, validator=number_in(1, None, optional=True))
    eval_batch_size: int = attrs.field(default=256, validator=positive_int)
    bn_batches: int = attrs.field(default=4, validator=positive_int)
    rank_metrics: list[str] = attrs.field(factory=list, validator=string_list)
    report: list[str] = attrs.field(factory=list, validator=string_list)
    derive: bool = attrs.field(default=True, validator=boolean)
    threads: int | None = attrs.field(default=None, validator=number_in(1, None, optional=True))


class OneShotRun(RunKind):
    """oneshot: train a supernet with a one-shot method; evaluate and checkpoint every epoch.

    Needs ``[data] path`` (an image folder, a zip of one, or an npz) and ``[data] split``."""

    Config = OneShotOptions
    unit = "epoch"

    def __init__(self, config, registry, space) -> None:
        super().__init__(config, registry, space)
        self.options: OneShotOptions = config.options
        require(space, HasSupernet, "kind 'oneshot'")
        self.method = create_part("oneshot", self.options.method, "oneshot.method", space=space)
        data = config.data
        if data.path is None:
            raise ConfigError("kind 'oneshot' trains on images; set [data] path to an image folder, a zip of one or an .npz, and [data] split = [train, valid]")
        if data.split is None:
            raise ConfigError("kind 'oneshot' needs [data] split = [train, valid] (e.g. [5000, 5000]) to take its train and validation images")
        if data.device.startswith("cuda"):
            import torch

            if not torch.cuda.is_available():
                raise ConfigError(f"data.device = {data.device!r} but torch sees no CUDA device; use \"cpu\"")
        self.benchmark = None
        if self.options.rank_metrics or self.options.report:
            self.benchmark = require(space, Benchmarked, "oneshot.rank_metrics").load_benchmark(config.benchmark.path)
            for metric in [*self.options.rank_metrics, *self.options.report]:
                self.benchmark.check_metric(metric)
        from nasplug.core.datasets import training_data

        # read (and cache) the images now: bad data fails before anything is stored
        self.data = training_data(data.path, data.split, config.seed, augment=data.augment)
        if self.method.uses_validation and len(self.data.valid) < self.options.batch_size:
            raise ConfigError(f"the validation split holds fewer than batch_size = {self.options.batch_size} images, and method "
                              f"'{type(self.method).__name__}' takes a validation batch every step; enlarge [data] split or lower [oneshot] batch_size")
        # option errors, and a method that cannot train this supernet, surface now
        self.supernet_options = {**self.method.supernet_options(), **self.options.supernet}
        self.method.check_supernet(space.supernet(num_classes=len(self.data.classes), **self.supernet_options))
        #: (epochs, supernet option overrides) per stage of the method (one stage for most).
        self.stages = [(int(n), dict(opts)) for n, opts in self.method.stages(self.options.epochs)]
        if sum(n for n, _ in self.stages) != self.options.epochs or any(n < 1 for n, _ in self.stages):
            raise ConfigError(f"method '{type(self.method).__name__}' splits {self.options.epochs} epochs into stages "
                              f"{[n for n, _ in self.stages]}; raise [oneshot] epochs to at least one per stage")
        for _, overrides in self.stages[1:]:
            space.supernet(num_classes=len(self.data.classes), **{**self.supernet_options, **overrides})

    def total(self) -> int:
        return self.options.epochs

    # --- building blocks -------------------------------------------------------------------
    def _optimiser(self, supernet: Any, epochs: int) -> tuple[Any, Any]:
        import torch

        o = self.options
        optimizer = torch.optim.SGD(supernet.parameters(), lr=o.lr, momentum=o.momentum,
                                    nesterov=o.nesterov and o.momentum > 0, weight_decay=o.weight_decay)
        if o.schedule == "cosine":
            schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=o.schedule_epochs or epochs, eta_min=o.min_lr)
        else:
            schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _epoch: 1.0)
        return optimizer, schedule

    def _eval_archs(self) -> list[Any]:
        rng = derive_rng(self.config.seed, "oneshot-eval-archs")
        out: list[Any] = []
        seen: set[str] = set()
        for _ in range(100 * max(self.options.eval_archs, 1)):
            if len(out) >= self.options.eval_archs:
                break
            arch = self.space.sample(rng)
            key = self.space.canonical(arch)
            if key not in seen:
                seen.add(key)
                out.append(arch)
        return out

    def _epoch_metrics(self, evaluator: Any, archs: list[Any]) -> dict[str, Any]:
        if not archs:
            return {}
        acc = evaluator.many(archs)
        out: dict[str, Any] = {"valid_accuracy_mean": float(np.mean(acc)), "valid_accuracy_max": float(np.max(acc))}
        for metric in self.options.rank_metrics:
            truth = self.benchmark.query_many(archs, metric)
            out[f"kendall_tau_{metric}"] = kendall_tau(acc, truth)
            out[f"spearman_{metric}"] = spearman(acc, truth)
        return out

    def _validation_batches(self, epoch: int) -> Any:
        """Shuffled validation batches for the architecture steps of ``epoch``, repeated (with a
        fresh order) when the validation split is shorter than the training split (it holds at
        least one batch: checked when the run is built)."""
        from nasplug.core.datasets import iterate_epoch

        for lap in itertools.count():
            yield from iterate_epoch(self.data.valid, epoch + 1_000_000 * lap, self.options.batch_size,
                                     workers=self.config.data.workers)

    def _current_arch_metrics(self, supernet: Any, evaluator: Any, metrics: dict[str, Any]) -> dict[str, Any]:
        """The architecture the method would derive now: its key, its share of parameter-free ops,
        its accuracy with inherited weights (and the discretisation gap to the supernet's own
        accuracy when the method reports one) and its benchmark metrics."""
        arch = self.method.current_arch(supernet)
        if arch is None:
            return {}
        out: dict[str, Any] = {"derived_arch": self.space.canonical(arch)}
        if hasattr(supernet, "parameter_free_ops"):
            free, total = supernet.parameter_free_ops(arch)
            out["derived_parameter_free"] = int(free)
            out["derived_parameter_free_share"] = free / total if total else float("nan")
        out["derived_valid_accuracy"] = evaluator.accuracy(arch)
        if "supernet_valid_accuracy" in metrics:
            out["discretisation_gap"] = metrics["supernet_valid_accuracy"] - out["derived_valid_accuracy"]
        for metric in self.options.report or self.options.rank_metrics:
            out[f"derived_{metric}"] = self.benchmark.query(arch, metric)
        return out

    # --- the run -----------------------------------------------------------------------------
    def execute(self, run: RunContext) -> dict[str, Any]:
        import torch

        o, data_options = self.options, self.config.data
        threads_before = torch.get_num_threads()
        if o.threads:
            torch.set_num_threads(int(o.threads))
        try:
            return self._train(run, torch, o, data_options)
        finally:
            torch.set_num_threads(threads_before)

    def _train(self, run: RunContext, torch: Any, o: OneShotOptions, data_options: Any) -> dict[str, Any]:
        from nasplug.core.datasets import iterate_epoch
        from nasplug.core.oneshot.evaluate import SupernetEvaluator

        device = data_options.device
        seed = self.config.seed
        plan = self.stages
        first = np.cumsum([0, *[n for n, _ in plan]])  # first epoch of each stage

        def stage_of(epoch: int) -> int:
            return int(np.searchsorted(first, epoch, side="right")) - 1

        def build(stage: int) -> tuple[Any, Any, Any]:
            """A fresh supernet (weights drawn from the seed and the stage), optimiser and schedule."""
            torch.manual_seed(seed if stage == 0 else int(derive_rng(seed, "oneshot-stage", stage).integers(2**62)))
            options = {**self.supernet_options, **plan[stage][1]}
            net = self.space.supernet(num_classes=len(self.data.classes), **options).to(device)
            return (net, *self._optimiser(net, plan[stage][0]))

        path = checkpoint_path(run.store.path, run.id)
        state = torch.load(path, map_location=device, weights_only=True) if path.is_file() else None
        current = int(state.get("stage", 0)) if state is not None else 0
        supernet, optimizer, schedule = build(current)
        self.method.setup(supernet, device)
        history: list[dict[str, Any]] = []
        start = 0
        if state is not None:
            supernet.load_state_dict(state["supernet"])
            optimizer.load_state_dict(state["optimizer"])
            schedule.load_state_dict(state["schedule"])
            self.method.load_state_dict(state["method"])
            history = [dict(h) for h in state["history"]]
            start = int(state["epoch"]) + 1
            for h in history:  # epochs the store may have missed (killed between save and commit)
                run.store.add_epoch(run.id, int(h["epoch"]), {k: v for k, v in h.items() if k != "epoch"})
            run.completed = start
        eval_archs = self._eval_archs()
        # fixed BN-recalibration and validation batches; it reads the supernet's current weights
        evaluator = SupernetEvaluator(supernet, self.data, bn_batches=o.bn_batches, batch_size=o.eval_batch_size,
                                      eval_images=o.eval_images, device=device)
        for epoch in range(start, o.epochs):
            if stage_of(epoch) != current:  # the method's next stage: a new supernet
                current = stage_of(epoch)
                supernet, optimizer, schedule = build(current)
                self.method.begin_stage(current, supernet)
                evaluator = SupernetEvaluator(supernet, self.data, bn_batches=o.bn_batches, batch_size=o.eval_batch_size,
                                              eval_images=o.eval_images, device=device)
            started = time.perf_counter()
            self.method.start_epoch(epoch, o.epochs)
            supernet.train()
            losses, accs, extra = [], [], {}
            valid = self._validation_batches(epoch) if self.method.uses_validation else None
            for step, (x, y) in enumerate(iterate_epoch(self.data.train, epoch, o.batch_size, workers=data_options.workers)):
                rng = derive_rng(seed, "oneshot-step", epoch, step)
                kwargs = {}
                if valid is not None:
                    xv, yv = next(valid)
                    kwargs["valid"] = (xv.to(device), yv.to(device))
                m = self.method.train_step(supernet, x.to(device), y.to(device), optimizer, rng, o.grad_clip, **kwargs)
                losses.append(m["loss"])
                accs.append(m["accuracy"])
                for key, value in m.items():
                    if key not in ("loss", "accuracy"):
                        extra.setdefault(key, []).append(value)
            lr = optimizer.param_groups[0]["lr"]
            schedule.step()
            train_seconds = time.perf_counter() - started
            metrics: dict[str, Any] = {"train_loss": float(np.mean(losses)) if losses else float("nan"),
                                       "train_accuracy": float(np.mean(accs)) if accs else float("nan"),
                                       "lr": lr, "steps": len(losses), "train_seconds": train_seconds}
            metrics.update({f"train_{key}": float(np.mean(values)) for key, values in extra.items()})
            metrics.update(self._epoch_metrics(evaluator, eval_archs))
            metrics.update(self.method.epoch_metrics(supernet, evaluator, derive_rng(seed, "oneshot-diagnostics", epoch)))
            metrics.update(self._current_arch_metrics(supernet, evaluator, metrics))
            metrics["seconds"] = time.perf_counter() - started
            history.append({"epoch": epoch, **metrics})
            tmp = path.with_suffix(".tmp")
            torch.save({"supernet": supernet.state_dict(), "optimizer": optimizer.state_dict(),
                        "schedule": schedule.state_dict(), "method": self.method.state_dict(),
                        "epoch": epoch, "stage": current, "history": history}, tmp)
            os.replace(tmp, path)
            run.finish_epoch(epoch, metrics)
        result: dict[str, Any] = {"epochs": o.epochs, "checkpoint": str(path), "data": self.data.describe(),
                                  "supernet": dict(self.supernet_options),
                                  **({"stages": [[n, dict(ov)] for n, ov in self.stages]} if len(self.stages) > 1 else {}),
                                  "parameters": int(sum(p.numel() for p in supernet.parameters())),
                                  "final": {k: v for k, v in history[-1].items() if k != "epoch"} if history else {}}
        if o.derive:
            arch = self.method.derive(evaluator, derive_rng(seed, "oneshot-derive"))
            if arch is not None:
                key, last = self.space.canonical(arch), history[-1] if history else {}
                # the last epoch already scored this architecture on the same weights and batches
                accuracy = last["derived_valid_accuracy"] if last.get("derived_arch") == key else evaluator.accuracy(arch)
                derived: dict[str, Any] = {"arch": key, "valid_accuracy": accuracy}
                for metric in o.report or o.rank_metrics:
                    value = self.benchmark.query(arch, metric)
                    derived[metric] = value
                    derived[f"regret_{metric}"] = float(np.nanmax(self.benchmark.query_many(self.benchmark.architectures(), metric))) - value
                result["derived"] = derived
        return result
