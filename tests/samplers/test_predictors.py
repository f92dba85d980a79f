"""Neural predictors (NPNAS GCN, DARE's GCN, MLP): conformance, learnable targets on real
benchmark tables, reproducibility, batching and the GCN's two backends. Epochs are kept small."""

from __future__ import annotations

import numpy as np
import torch  # imported at collection so the suite pins torch to one thread
import pytest

from nasplug.core.errors import BenchmarkError, BudgetError
from nasplug.core.metrics import spearman
from nasplug.core.registry import registry
from nasplug.core.testing import PredictorConformance
from nasplug.samplers.predictors.gcn import DAREGCNPredictor, GCNPredictor
from nasplug.samplers.predictors.mlp import MLPPredictor

FAST = {"epochs": 10, "batch_size": 60, "lr": 1e-2}


class TestGCNPredictor(PredictorConformance):
    @pytest.fixture
    def predictor_cls(self):
        return GCNPredictor

    @pytest.fixture
    def predictor_options(self):
        return FAST


class TestDAREGCNPredictor(TestGCNPredictor):
    @pytest.fixture
    def predictor_cls(self):
        return DAREGCNPredictor


class TestMLPPredictor(PredictorConformance):
    @pytest.fixture
    def predictor_cls(self):
        return MLPPredictor

    @pytest.fixture
    def predictor_options(self):
        return {"epochs": 10, "batch_size": 50, "lr": 5e-3}


# --- real tables --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def nb201_data(benchmarks):
    """120 labelled NB201 cells and 1,500 held out, with two targets."""
    space = registry().create("space", "nb201")
    bench = space.load_benchmark()
    archs = space.sample_many(1620, np.random.default_rng(0))
    targets = {m: bench.query_many(archs, m) for m in ("params_cifar10_m", "cifar10_valid_val")}
    return space, archs, targets


@pytest.fixture(scope="module")
def nb201_params(nb201_data):
    """Parameter count (millions): fully determined by the cell's ops, hence clearly learnable."""
    space, archs, targets = nb201_data
    y = targets["params_cifar10_m"]
    return space, archs[:120], y[:120], archs[120:], y[120:]


# Parameter counts need every op of the cell, so these predictors read the raw 8-node graph (HAAP's
# form prunes ops on dead paths, which still hold parameters); accuracy is learnt from HAAP's form.
@pytest.mark.parametrize("spec, metric, threshold", [
    ({"name": "gcn", "graph": "raw"}, "params_cifar10_m", 0.95),
    ({"name": "gcn", "graph": "raw", "backend": "dense"}, "params_cifar10_m", 0.95),
    ({"name": "dare_gcn", "graph": "raw"}, "params_cifar10_m", 0.95),
    ({"name": "mlp"}, "params_cifar10_m", 0.95),
    ({"name": "gcn"}, "cifar10_valid_val", 0.8),
    ({"name": "mlp", "encoder": "haap", "augment": 2}, "cifar10_valid_val", 0.8),
])
def test_learns_a_learnable_nb201_target(nb201_data, spec, metric, threshold):
    space, archs, targets = nb201_data
    y = targets[metric]
    options = {"epochs": 20, "batch_size": 20, "lr": 5e-3, **spec}
    predictor = registry().create("predictor", options, space=space).fit(archs[:120], y[:120], seed=0)
    pred = predictor.predict(archs[120:])
    assert spearman(pred, y[120:]) > threshold
    # predictions are in the benchmark's units, not z-scores
    assert abs(np.mean(pred) - np.mean(y[120:])) < 0.5 * np.std(y[120:])


def test_dare_design_b_pretrains_and_learns(nb201_params):
    space, train, y, test, y_test = nb201_params
    options = {"name": "dare_gcn", "design": "B", "graph": "raw", "pretrain_archs": 200, "pretrain_epochs": 2,
               "epochs": 15, "batch_size": 20, "lr": 5e-3}
    predictor = registry().create("predictor", options, space=space).fit(train, y, seed=0)
    assert spearman(predictor.predict(test), y_test) > 0.85
    with pytest.raises(Exception, match="backend"):
        registry().create("predictor", {**options, "backend": "dense", "epochs": 1}, space=space).fit(train, y)


def _nb101():
    """The NB101 space; skipped only when it is not installed (a broken one fails the test)."""
    if "nb101" not in registry().names("space"):
        pytest.skip("the nb101 space (nasplug-spaces) is not installed")
    return registry().create("space", "nb101")


def test_gcn_learns_nb101_parameter_counts_on_cells_of_any_size(benchmarks):
    space = _nb101()
    bench = space.load_benchmark()
    archs = list(bench.architectures())
    y = np.log(bench.query_many(archs, "params"))
    config = GCNPredictor.Config(epochs=15, batch_size=25, lr=5e-3)
    predictor = GCNPredictor(config, space=space).fit(archs[:150], y[:150], seed=0)
    assert spearman(predictor.predict(archs[150:]), y[150:]) > 0.8
    assert predictor.embed(archs[:5]).shape == (5, 144)


def test_gcn_embeds_isomorphic_nb101_cells_alike(benchmarks):
    """Message passing + mean pooling: two vertex orders of one cell get one embedding and one
    prediction, without canonicalising (the flat encoders need ``parse(canonical(a))``)."""
    space = _nb101()
    from nasplug.samplers.encoders.haap import HAAPEncoder

    topological = HAAPEncoder(HAAPEncoder.Config(upper_triangular_only=True), space=space)
    rng = np.random.default_rng(3)
    while not (views := topological.views(arch := space.sample(rng))[1:]):
        pass
    twin = space.parse((np.asarray(views[0].adjacency), list(views[0].ops)))
    bench = space.load_benchmark()
    archs = list(bench.architectures())[:40]
    predictor = GCNPredictor(GCNPredictor.Config(epochs=1), space=space).fit(archs, bench.query_many(archs, "val_accuracy"))
    np.testing.assert_allclose(*predictor.embed([arch, twin]), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(*predictor.predict([arch, twin]), rtol=1e-6)


def test_fit_is_reproducible_and_depends_on_the_seed(nb201_params):
    space, train, y, test, _ = nb201_params
    def fit(seed, cls=DAREGCNPredictor):
        return cls(cls.Config(epochs=2, batch_size=20), space=space).fit(train, y, seed=seed).predict(test[:200])
    np.testing.assert_array_equal(fit(5), fit(5))
    assert not np.allclose(fit(5), fit(6))


def test_dense_backend_is_the_same_network(nb201_params):
    """Same parameters, same outputs: the dense backend only changes how propagation is computed.
    (Trained separately they differ: dropout masks are drawn over padded vs unpadded nodes.)"""
    from nasplug.samplers.predictors.gcn import _build_network

    space, train, y, test, _ = nb201_params
    sparse = GCNPredictor(GCNPredictor.Config(epochs=2, batch_size=20), space=space).fit(train, y, seed=1)
    dense = GCNPredictor(GCNPredictor.Config(backend="dense"), space=space)
    dense.model = _build_network(len(space.op_vocabulary), dense.config)
    dense.model.load_state_dict(sparse.model.state_dict())
    dense.scaler = sparse.scaler
    np.testing.assert_allclose(sparse.predict(test[:300]), dense.predict(test[:300]), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(sparse.embed(test[:50]), dense.embed(test[:50]), rtol=1e-4, atol=1e-5)


def test_prediction_is_chunked_without_changing_results(nb201_params):
    space, train, y, test, _ = nb201_params
    big = GCNPredictor(GCNPredictor.Config(epochs=2, batch_size=40), space=space).fit(train, y, seed=0)
    small = GCNPredictor(GCNPredictor.Config(epochs=2, batch_size=40, predict_batch_size=7), space=space)
    small.model, small.scaler = big.model, big.scaler
    np.testing.assert_allclose(big.predict(test[:100]), small.predict(test[:100]), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(big.embed(test[:30]), small.embed(test[:30]), rtol=1e-5, atol=1e-6)
    assert big.predict([]).shape == (0,) and big.embed([]).shape == (0, 144)


def test_homogeneous_views_leave_the_gcn_embedding_unchanged(nb201_params):
    """The GCN is permutation invariant: without dropout, an HA view embeds like the cell itself,
    so DARE design A's consistency term acts through dropout (see DAREGCNPredictor's docstring)."""
    space, train, y, _, _ = nb201_params
    predictor = DAREGCNPredictor(DAREGCNPredictor.Config(epochs=1, batch_size=40, dropout=0.0), space=space).fit(train, y, seed=0)
    data = predictor.graph_data(train[:40])
    with torch.no_grad():
        plain = predictor.model(data)[1]
        view = predictor.model(data, index=torch.arange(40), generator=torch.Generator().manual_seed(0))[1]
    torch.testing.assert_close(plain, view, rtol=1e-5, atol=1e-6)


def test_embeddings_are_the_pooled_or_fc1_vectors(nb201_params):
    space, train, y, test, _ = nb201_params
    pooled = GCNPredictor(GCNPredictor.Config(epochs=1), space=space).fit(train[:20], y[:20]).embed(test[:4])
    fc1 = GCNPredictor(GCNPredictor.Config(epochs=1, embedding="fc1"), space=space).fit(train[:20], y[:20]).embed(test[:4])
    assert pooled.shape == (4, 144) and fc1.shape == (4, 128)
    mlp = MLPPredictor(MLPPredictor.Config(epochs=1, hidden=(32, 16)), space=space).fit(train[:20], y[:20])
    assert mlp.embed(test[:4]).shape == (4, 16)


def test_bad_labels_are_refused(nb201_params):
    space, train, y, _, _ = nb201_params
    predictor = GCNPredictor(GCNPredictor.Config(epochs=1), space=space)
    with pytest.raises(BudgetError):
        predictor.fit(train[:5], y[:4])
    with pytest.raises(BudgetError):
        predictor.fit(train[:1], y[:1])
    with pytest.raises(BenchmarkError):
        predictor.fit(train[:3], np.array([1.0, np.nan, 2.0]))
    with pytest.raises(RuntimeError):
        predictor.predict(train[:2])


def test_protocol_defaults_are_dares():
    c = DAREGCNPredictor.Config()
    assert (c.lr, c.weight_decay, c.t0, c.t_mult, c.epochs, c.batch_size) == (1e-3, 1e-5, 20, 2, 300, 10)
    assert (c.hidden, c.layers, c.linear_hidden, c.dropout) == (144, 3, 128, 0.1)
    assert (c.consistency_weight, c.design, c.graph, c.backend) == (0.3, "A", "haap", "pyg")


def test_continue_fit_trains_a_copy_from_the_current_weights(nb201_params):
    space, train, y, test, _ = nb201_params
    config = DAREGCNPredictor.Config(epochs=6, batch_size=20, graph="raw")
    first = DAREGCNPredictor(config, space=space).fit(train, y, seed=0)
    before = first.predict(test[:50])
    more = first.continue_fit(train, y, seed=1)
    np.testing.assert_array_equal(first.predict(test[:50]), before)  # the original is untouched
    fresh = DAREGCNPredictor(config, space=space).fit(train, y, seed=1)
    # continuing starts where the first fit ended: its first epoch's loss is already far below a fresh start's
    assert more.history[0] < 0.5 * fresh.history[0]
    assert more.history[0] <= first.history[0]
    assert not np.allclose(more.predict(test[:50]), before)
