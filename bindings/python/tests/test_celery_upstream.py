"""Celery's own key-value backend tests, run against DataBridgeBackend on a live server.

Celery's unit tests ship in its source distribution (not in the wheel). At collection time this
module extracts ``t/unit/backends/test_base.py`` and the ``t/unit/conftest.py`` it relies on
from the sdist of the installed Celery version into a temporary folder (nothing of Celery's is
kept in this repository), then subclasses:

* ``test_KeyValueStoreBackend``: the storage tests (store/get/forget, get_many, groups, chord
  parts, serializers...). Upstream they run on ``KVBackend``, a dict; here ``self.b`` and every
  ``KVBackend(...)`` a test builds are DataBridgeBackend instances on the session's server, in
  a namespace of the test's own.
* ``test_backend_retries``: Celery's retry loops (``result_backend_always_retry``), with
  ``BaseBackend(...)`` replaced by DataBridgeBackend.

The sdist is looked up in ``$DBKV_CELERY_SDIST`` (a path to the .tar.gz), then in
``<tmp>/celery-sdist/``; if absent it is fetched there with
``pip download celery==<version> --no-deps --no-binary :all:``. Without it the module is skipped,
except in CI (``$CI`` or ``$DBKV_REQUIRE_CELERY_UPSTREAM`` set), where that is a failure.

Only Celery's own pytest helpers are needed (``celery.contrib.pytest``, in Celery itself: no
pytest-celery plugin), plus PyYAML and msgpack for the serializer-parametrized test (pinned
in requirements-test.txt).
"""
from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import warnings
from pathlib import Path

import celery
import pytest

from data_bridge.kv.celery import DataBridgeBackend

pytestmark = pytest.mark.timeout(120)

_MEMBERS = ("t/__init__.py", "t/unit/__init__.py", "t/unit/conftest.py",
            "t/unit/backends/__init__.py", "t/unit/backends/test_base.py")


def _find_sdist() -> Path:
    name = f"celery-{celery.__version__}.tar.gz"
    explicit = os.environ.get("DBKV_CELERY_SDIST")
    if explicit:
        return Path(explicit)
    cache = Path(tempfile.gettempdir()) / "celery-sdist"
    path = cache / name
    if not path.exists():
        cache.mkdir(parents=True, exist_ok=True)
        try:
            subprocess.run([sys.executable, "-m", "pip", "download", "-q",
                            f"celery=={celery.__version__}", "--no-deps", "--no-binary",
                            ":all:", "-d", str(cache)],
                           check=True, timeout=300, capture_output=True)
        except (subprocess.SubprocessError, OSError) as e:
            why = f"Celery's sdist ({name}) is not available: {e}"
            if os.environ.get("CI") or os.environ.get("DBKV_REQUIRE_CELERY_UPSTREAM"):
                # In CI a green run must include Celery's own tests: fail, never skip.
                pytest.fail(why + " (CI: set DBKV_CELERY_SDIST to a local copy)",
                            pytrace=False)
            pytest.skip(why, allow_module_level=True)
    return path


def _extract(sdist: Path) -> str:
    """Extracts the few files needed into a temporary folder removed at exit."""
    root = tempfile.mkdtemp(prefix="celery-upstream-tests-")
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    prefix = f"celery-{celery.__version__}/"
    with tarfile.open(sdist) as tar:
        for member in _MEMBERS:
            data = tar.extractfile(prefix + member).read()
            target = Path(root, member)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
    return root


_ROOT = _extract(_find_sdist())
sys.path.insert(0, _ROOT)
try:
    with warnings.catch_warnings():
        # @pytest.mark.celery: registered by celery.contrib.pytest's pytest_configure, which
        # only runs when it is loaded as a plugin (Celery's own setup), not here.
        warnings.simplefilter("ignore", pytest.PytestUnknownMarkWarning)
        from t.unit import conftest as _upstream_conftest
        from t.unit.backends import test_base as upstream
finally:
    sys.path.remove(_ROOT)

# Celery's fixtures, scoped to this module: the app (celery.contrib.pytest's celery_app with
# Celery's test configuration and app trap), `patching`, and the autouse fixture that gives
# every test class `self.app`, `self.patching`... as upstream.
from celery.contrib.pytest import (  # noqa: E402,F401
    celery_app, celery_enable_logging, celery_parameters)

app = _upstream_conftest.app
celery_config = _upstream_conftest.celery_config
use_celery_app_trap = _upstream_conftest.use_celery_app_trap
patching = _upstream_conftest.patching
test_cases_shortcuts = _upstream_conftest.test_cases_shortcuts
task_join_will_not_block = _upstream_conftest.task_join_will_not_block


def _live_class(url: str):
    """DataBridgeBackend with this test's server URL as the default ``url``, so that upstream
    code constructing ``KVBackend(app=...)`` / ``BaseBackend(app=...)`` gets a live one."""
    class LiveDataBridgeBackend(DataBridgeBackend):
        def __init__(self, app=None, *args, **kwargs):
            kwargs.setdefault("url", url)
            super().__init__(app, *args, **kwargs)
    return LiveDataBridgeBackend


# Tests of the dict-backed KVBackend that assert what our backend deliberately does otherwise.
_INCR_CHORD = ("tests Celery's generic INCR-then-join chord algorithm (with a mocked client and "
               "GroupResult); ours counts chord parts as Celery's Redis backend does, which "
               "tests/test_celery_canvas.py compares with that backend on real workers")
_DICT_BACKEND_ONLY = {
    "test_chord_apply_fallback":
        "sets implements_incr = False and expects the chord_unlock fallback task; ours never "
        "sends chord_unlock (chords complete in on_chord_part_return)",
    "test_chord_part_return_restore_raises": _INCR_CHORD,
    "test_chord_part_return_restore_empty": _INCR_CHORD,
    "test_chord_part_return_timeout": _INCR_CHORD,
    "test_chord_part_return_propagate_set": _INCR_CHORD,
    "test_chord_part_return_propagate_default": _INCR_CHORD,
    "test_chord_part_return_join_raises_internal": _INCR_CHORD,
    "test_chord_part_return_join_raises_task": _INCR_CHORD,
}


class TestUpstreamKeyValueStoreBackend(upstream.test_KeyValueStoreBackend):
    """Celery's test_KeyValueStoreBackend with ``self.b`` a DataBridgeBackend on the live
    server. Skipped (see _DICT_BACKEND_ONLY): the unit tests of the generic INCR chord
    algorithm, and test_chord_apply_fallback."""

    def setup_method(self):
        pass  # the fixture below builds self.b (it needs the server fixture)

    @pytest.fixture(autouse=True)
    def _live_backend(self, request, test_cases_shortcuts, url, monkeypatch):
        reason = _DICT_BACKEND_ONLY.get(request.node.originalname)
        if reason:
            pytest.skip(f"dict-backend specific: {reason}")
        live = _live_class(url)
        monkeypatch.setattr(upstream, "KVBackend", live)
        self.b = live(app=self.app)
        yield
        if isinstance(self.b, DataBridgeBackend):
            self.b.close()

    def test_results_really_live_on_the_server(self, client):
        """Not upstream: checks that this class does exercise the server."""
        self.b.mark_as_done("upstream-check", 1)
        assert client.get(b"celery-task-meta-upstream-check") is not None
        assert type(self.b).__mro__[1] is DataBridgeBackend


class TestUpstreamBackendRetries(upstream.test_backend_retries):
    """Celery's retry-loop tests with BaseBackend(...) replaced by a DataBridgeBackend."""

    @pytest.fixture(autouse=True)
    def _live_backend(self, test_cases_shortcuts, url, monkeypatch):
        monkeypatch.setattr(upstream, "BaseBackend", _live_class(url))
