"""FT-ScoreNet (Le, Nguyen & Luong, "Efficacy of Neural Prediction-Based NAS for Zero-Shot NAS
Paradigm"): a learned zero-shot scorer that reads an architecture through its own network, with
every convolution kernel synthesized from one learnable Fourier-domain tensor.

Modules: :mod:`.kernels` (frequency tensor, kernel and bias synthesis), :mod:`.vnorm` (two-pass
variance unitisation), :mod:`.layers` (synthesized conv/linear, pseudo-BN, SymLog),
:mod:`.construct` (constructed networks by module surgery on ``space.to_module``),
:mod:`.scorer` (the model), :mod:`.softrank` (differentiable ranking), :mod:`.train`,
:mod:`.ensemble` (Eq. 4 with weights fitted by differential evolution), :mod:`.plugins` (the
proxy and predictor). The paper's NSGA-II search with DE operators is the ``nsga2_de`` strategy of
nasplug-search (any positional space; the Zen-NAS space is one).
"""

from nasplug.proxies.ftscorenet.plugins import FTScoreNetPredictor, FTScoreNetProxy
from nasplug.proxies.ftscorenet.scorer import FTScoreNet, ModelConfig

__all__ = ["FTScoreNetProxy", "FTScoreNetPredictor", "FTScoreNet", "ModelConfig"]
