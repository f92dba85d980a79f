"""The ``nasplug`` command line."""
