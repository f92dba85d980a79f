"""One-shot (weight-sharing) methods, plugins of ``nasplug.oneshot``: SPOS and FairNAS (path
sampling), DARTS and its differentiable family (GDAS, DrNAS, PC-DARTS, Fair DARTS, DARTS-,
SDARTS-RS and -ADV, GAEA, P-DARTS)."""

from nasplug.search.oneshot.darts import DARTS
from nasplug.search.oneshot.dartsminus import DartsMinus
from nasplug.search.oneshot.drnas import DrNAS
from nasplug.search.oneshot.fairdarts import FairDARTS
from nasplug.search.oneshot.fairnas import FairNAS
from nasplug.search.oneshot.gaea import GAEA
from nasplug.search.oneshot.gdas import GDAS
from nasplug.search.oneshot.pcdarts import PCDARTS
from nasplug.search.oneshot.pdarts import PDARTS
from nasplug.search.oneshot.sdarts import SDARTS, SDARTSADV
from nasplug.search.oneshot.spos import SPOS

__all__ = ["DARTS", "DartsMinus", "DrNAS", "FairDARTS", "FairNAS", "GAEA", "GDAS", "PCDARTS", "PDARTS", "SDARTS", "SDARTSADV", "SPOS"]
