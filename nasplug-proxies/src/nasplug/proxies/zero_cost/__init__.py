"""Training-free (zero-cost) proxies: each scores an untrained network that the space builds
with ``to_module``, seeded by ``ProxyContext.seed``, on the CPU unless the context asks for CUDA.
A degenerate network gives a non-finite score (ranked last by the runner), never an exception.

- ``synflow`` (:class:`SynflowProxy`): max, data-free. Tanaka 2020; Abdelfattah 2021.
- ``logsynflow`` (:class:`LogSynflowProxy`): max, data-free. Cavagnero 2022 (FreeREA).
- ``snip`` (:class:`SnipProxy`): max, labelled batch. Lee 2019; Abdelfattah 2021.
- ``grasp`` (:class:`GraspProxy`): max, labelled batch. Wang 2020; Abdelfattah 2021.
- ``grad_norm`` (:class:`GradNormProxy`): max, labelled batch. Abdelfattah 2021.
- ``fisher`` (:class:`FisherProxy`): max, labelled batch. Turner 2020; Abdelfattah 2021.
- ``jacov`` (:class:`JacovProxy`): max, images. Mellor 2020 (v1); Abdelfattah 2021.
- ``naswot`` (:class:`NaswotProxy`): max, images. Mellor 2021.
- ``zen`` (:class:`ZenProxy`): max, data-free. Lin 2021 (Zen-NAS).
- ``nregions`` (:class:`LinearRegionsProxy`): max, data-free. Chen 2021 (TE-NAS).
- ``ntk`` (:class:`NTKProxy`): min, images. Chen 2021 (TE-NAS).
"""

from nasplug.proxies.zero_cost.fisher import FisherProxy
from nasplug.proxies.zero_cost.grad_norm import GradNormProxy
from nasplug.proxies.zero_cost.grasp import GraspProxy
from nasplug.proxies.zero_cost.jacov import JacovProxy
from nasplug.proxies.zero_cost.linear_regions import LinearRegionsProxy
from nasplug.proxies.zero_cost.naswot import NaswotProxy
from nasplug.proxies.zero_cost.ntk import NTKProxy
from nasplug.proxies.zero_cost.snip import SnipProxy
from nasplug.proxies.zero_cost.synflow import LogSynflowProxy, SynflowProxy
from nasplug.proxies.zero_cost.zen import ZenProxy

__all__ = [
    "FisherProxy", "GradNormProxy", "GraspProxy", "JacovProxy", "LinearRegionsProxy", "LogSynflowProxy",
    "NTKProxy", "NaswotProxy", "SnipProxy", "SynflowProxy", "ZenProxy",
]
