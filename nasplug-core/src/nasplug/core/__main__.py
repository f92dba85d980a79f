"""``python -m nasplug.core`` runs the CLI."""

import sys

from nasplug.core.cli.main import main

sys.exit(main())
