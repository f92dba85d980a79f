"""The toy space and benchmark, where the conformance kit has always offered them (they live in
:mod:`nasplug.core.toy` so that the registered ``toy`` space loads without pytest)."""

from nasplug.core.toy import ToyBenchmark, ToySpace, ToySpaceConfig

__all__ = ["ToyBenchmark", "ToySpace", "ToySpaceConfig"]
