"""Real external tools (kubectl, prometheus) in tests: skip on a laptop without them, fail in CI.

CI sets LOOKOUT_REQUIRE_REAL_TOOLS=1: a missing tool is then a failure, never a silent skip.
"""
from __future__ import annotations

import os
import shutil

import pytest

REQUIRE_ENV = "LOOKOUT_REQUIRE_REAL_TOOLS"


def tools_required() -> bool:
    return os.environ.get(REQUIRE_ENV, "").strip().lower() in ("1", "true", "yes")


def missing(what: str) -> None:
    """Skip (laptop) or fail (CI) because `what` is not available."""
    msg = f"{what} is not available on this machine"
    if tools_required():
        pytest.fail(f"{msg}, and {REQUIRE_ENV}=1 requires it", pytrace=False)
    pytest.skip(f"{msg} (set {REQUIRE_ENV}=1 to make this a failure)")


def require_tool(name: str) -> str:
    """The absolute path of executable `name` on PATH, or skip/fail the test."""
    path = shutil.which(name)
    if path is None:
        missing(f"the `{name}` executable")
    return path  # type: ignore[return-value]
