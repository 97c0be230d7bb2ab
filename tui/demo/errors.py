"""The demo API server's errors: each carries the Kubernetes Status reason and code it is answered with."""

from __future__ import annotations

import re
from typing import Any


class StateError(Exception):
    """Base: `reason` and `code` are the Kubernetes Status fields the server returns."""

    reason = "InternalError"
    code = 500

    def __init__(self, message: str, *, res: str | None = None, name: str | None = None,
                 causes: list[dict] | None = None):
        super().__init__(message)
        self.message = message
        self.res = res
        self.name = name
        self.causes = causes or []

    def details(self) -> dict | None:
        if self.res is None and self.name is None:
            return None
        d: dict[str, Any] = {}
        if self.name:
            d["name"] = self.name
        if self.res:
            from tui.demo.state import KINDS  # noqa: PLC0415 - the served kinds, read when an error is answered

            k = KINDS.get(self.res)
            if k is not None:
                if k.group:
                    d["group"] = k.group
                d["kind"] = k.plural
            elif "." in self.res:  # a custom resource: "canaries.flagger.app"
                plural, _, group = self.res.partition(".")
                first, _, rest = group.partition(".")
                d["group"] = rest if rest and re.fullmatch(r"v\d+((alpha|beta)\d+)?", first) else group
                d["kind"] = plural
            else:
                d["kind"] = self.res
        if self.causes:
            d["causes"] = self.causes
        return d

    def status(self) -> dict:
        s = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
             "message": self.message, "reason": self.reason, "code": self.code}
        d = self.details()
        if d:
            s["details"] = d
        return s


class NotFound(StateError):
    reason, code = "NotFound", 404


class AlreadyExists(StateError):
    reason, code = "AlreadyExists", 409


class Conflict(StateError):
    reason, code = "Conflict", 409


class Gone(StateError):
    """A resourceVersion older than the retained history (watch) or an expired continue token (list)."""
    reason, code = "Expired", 410


class Invalid(StateError):
    reason, code = "Invalid", 422


class BadRequest(StateError):
    reason, code = "BadRequest", 400
