"""A pytest plugin (entry point ``pytest11``) registering the conformance kit for pytest's
assertion rewriting, so a plugin author's failing conformance test shows the values compared,
not a bare ``AssertionError``. It imports nothing else of nasplug, so loading it early is free."""

import pytest

pytest.register_assert_rewrite("nasplug.core.testing")
