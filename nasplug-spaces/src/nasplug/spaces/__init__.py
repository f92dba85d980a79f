"""nasplug search-space plugins (registered under the ``nasplug.spaces`` entry-point group).

``nasplug`` itself is a PEP 420 namespace package shared with ``nasplug-core``; this subpackage
holds one folder per space (currently :mod:`nasplug.spaces.nb201`).
"""
