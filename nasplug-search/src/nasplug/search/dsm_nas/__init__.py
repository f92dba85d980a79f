"""DSM-NAS: neural architecture search by dominative subspace mining (Chen et al., TCSVT 2024)."""

from nasplug.search.dsm_nas.strategy import DSMNAS, DSMNASConfig

__all__ = ["DSMNAS", "DSMNASConfig"]
