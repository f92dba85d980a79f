"""Zero-cost proxy scores as predictor features: the encoder's columns, the on-disk cache, and
predictors that learn from a proxy what the encoding alone does not give them."""

from __future__ import annotations

import numpy as np
import pytest
import torch  # noqa: F401  (imported at collection, so the suite's one-thread fixture applies)

from nasplug.core.registry import Registry, using


def _space(reg):
    return reg.create("space", "nb201", section="space")


def test_proxy_columns_are_the_symlog_of_the_proxy_fitness_appended_to_the_encoding():
    reg = Registry()
    with using(reg):
        space = _space(reg)
        archs = space.sample_many(5, np.random.default_rng(0))
        encoder = reg.create("encoder", {"name": "proxy_features", "base": "onehot", "proxies": ["params", "flops"]},
                             section="encoder", space=space)
        onehot = reg.create("encoder", "onehot", section="encoder", space=space)
        params, context, _ = encoder.proxies[0]
        x = encoder.encode(archs)
    base = onehot.encode(archs)
    assert x.shape == (5, base.shape[1] + 2) and np.array_equal(x[:, :base.shape[1]], base)
    expected = [np.log1p(params.fitness(params.score(a, context))) for a in archs]
    assert x[:, -2] == pytest.approx(expected, rel=1e-5)


def test_scores_are_computed_once_and_read_back_from_the_cache(monkeypatch, tmp_path):
    from nasplug.proxies.counts import ParamsProxy

    monkeypatch.setenv("NASPLUG_CACHE", str(tmp_path))

    calls = []
    original = ParamsProxy.score
    monkeypatch.setattr(ParamsProxy, "score", lambda self, arch, ctx: calls.append(arch) or original(self, arch, ctx))
    reg = Registry()
    with using(reg):
        space = _space(reg)
        archs = space.sample_many(4, np.random.default_rng(1))
        spec = {"name": "proxy_features", "base": "", "proxies": ["params"]}
        first = reg.create("encoder", spec, section="encoder", space=space).encode(archs)
        assert len(calls) == 4
        again = reg.create("encoder", spec, section="encoder", space=space).encode(archs + archs[:1])
    assert len(calls) == 4  # a new encoder, same configuration: all from the cache
    assert np.array_equal(again[:4], first) and first.shape == (4, 1)
    assert (tmp_path / "proxy_scores.sqlite").is_file()


def test_an_interrupted_scoring_keeps_every_finished_chunk_on_disk(monkeypatch, tmp_path):
    """A slow proxy killed part-way (here: it raises on the 6th architecture) loses at most the
    scores since the last write: with writes every 2 scores, the first 4 are read back."""
    from nasplug.proxies import features
    from nasplug.proxies.counts import ParamsProxy

    monkeypatch.setenv("NASPLUG_CACHE", str(tmp_path))
    monkeypatch.setattr(features, "SAVE_EVERY", 2)
    calls = []
    original = ParamsProxy.score

    def score(self, arch, ctx):
        calls.append(arch)
        if len(calls) == 6:
            raise KeyboardInterrupt
        return original(self, arch, ctx)

    monkeypatch.setattr(ParamsProxy, "score", score)
    reg = Registry()
    with using(reg):
        space = _space(reg)
        archs = space.sample_many(8, np.random.default_rng(2))
        spec = {"name": "proxy_features", "base": "", "proxies": ["params"]}
        with pytest.raises(KeyboardInterrupt):
            reg.create("encoder", spec, section="encoder", space=space).scores(archs)
        calls.clear()
        reg.create("encoder", spec, section="encoder", space=space).scores(archs)
    assert len(calls) == 8 - 4  # the two finished chunks came from the disk


def test_a_predictor_with_a_proxy_feature_learns_what_the_proxy_knows(benchmarks):
    """Target = log(params): a linear model on the one-hot encoding cannot fit it exactly; with the
    params proxy as a feature it can."""
    from nasplug.core import metrics

    reg = Registry()
    with using(reg):
        space = _space(reg)
        archs = space.sample_many(120, np.random.default_rng(2))
        y = reg.create("encoder", {"name": "proxy_features", "base": "", "proxies": ["params"]}, section="encoder",
                       space=space).encode(archs)[:, 0].astype(float)  # log(1 + params)
        plain = reg.create("predictor", {"name": "sklearn", "model": "linear"}, section="predictor", space=space)
        with_proxy = reg.create("predictor", {"name": "sklearn", "model": "linear", "features": ["encoding", "params"]},
                                section="predictor", space=space)
        err = {}
        for name, predictor in (("plain", plain), ("proxy", with_proxy)):
            predictor.fit(archs[:60], y[:60], seed=0)
            err[name] = metrics.mse(predictor.predict(archs[60:]), y[60:])
    assert err["proxy"] < 1e-6 < err["plain"]


def test_features_must_name_something():
    from nasplug.core.errors import ConfigError

    reg = Registry()
    with using(reg):
        space = _space(reg)
        with pytest.raises(ConfigError, match="features"):
            reg.create("predictor", {"name": "mlp", "features": []}, section="predictor", space=space)


def test_the_gcn_takes_proxy_scores_next_to_its_graph(benchmarks):
    """Target = log(1 + params) of random NB201 cells. The GCN on the graph alone learns it only
    approximately in 60 epochs; with the params proxy joining the pooled embedding (standardised on
    the training set), the target is linear in one input, and the held-out error falls by far."""
    from nasplug.core import metrics
    from nasplug.core.errors import ConfigError

    reg = Registry()
    with using(reg):
        space = _space(reg)
        archs = space.sample_many(120, np.random.default_rng(3))
        y = reg.create("encoder", {"name": "proxy_features", "base": "", "proxies": ["params"]}, section="encoder",
                       space=space).encode(archs)[:, 0].astype(float)
        err = {}
        for name, features in (("graph", ["encoding"]), ("proxy", ["encoding", "params"])):
            predictor = reg.create("predictor", {"name": "gcn", "backend": "dense", "epochs": 60, "features": features},
                                   section="predictor", space=space)
            predictor.fit(archs[:60], y[:60], seed=0)
            err[name] = metrics.mse(predictor.predict(archs[60:]), y[60:])
            if name == "proxy":
                assert predictor.model.fc1.in_features == 144 + 1
                again = predictor.clone().fit(archs[:60], y[:60], seed=0)
                assert np.array_equal(again.predict(archs[60:]), predictor.predict(archs[60:]))
        with pytest.raises(ConfigError, match="must include \"encoding\""):
            reg.create("predictor", {"name": "gcn", "features": ["params"]}, section="predictor", space=space)
    assert err["proxy"] < err["graph"] / 5, err
