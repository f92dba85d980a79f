"""One-shot (weight-sharing) methods: SPOS and FairNAS, plugins of ``nasplug.oneshot``."""

from nasplug.search.oneshot.fairnas import FairNAS
from nasplug.search.oneshot.spos import SPOS

__all__ = ["FairNAS", "SPOS"]
