"""Reading plain Kubernetes objects (dicts from JSON) without tripping on missing or null fields."""

from __future__ import annotations


def meta(o: dict | None) -> dict:
    """The object's metadata, {} when absent or null."""
    return (o or {}).get("metadata") or {}


def dig(o, *path):
    """o[path[0]][path[1]]..., None as soon as a step is missing or not a mapping."""
    for p in path:
        if not isinstance(o, dict):
            return None
        o = o.get(p)
    return o
