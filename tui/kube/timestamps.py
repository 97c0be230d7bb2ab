"""RFC 3339 timestamps as the API server writes them (metav1.Time, MicroTime) to epoch seconds: the one parser."""

from __future__ import annotations

import calendar
import re

# date "T" time, optional fraction (MicroTime has six digits, RFC3339Nano up to nine), then Z or an offset.
# A missing offset is read as UTC: the API server always writes Z, and a local-time guess would be wrong.
_RFC3339 = re.compile(r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|([+-])(\d{2}):?(\d{2}))?\Z")

_cache: dict[str, float] = {}
_CACHE_MAX = 50_000  # bounded: timestamps of long-gone pods are not kept forever


def parse_time(s: str | int | float | None) -> float | None:
    """Epoch seconds of an RFC 3339 timestamp ("2024-05-01T12:00:00Z", "...:00.123456Z", "...:00+02:00");
    a number is taken as epoch seconds already; None when absent or not a valid timestamp."""
    if s is None or isinstance(s, bool):
        return None
    if isinstance(s, (int, float)):
        return float(s)
    if not isinstance(s, str) or not s:
        return None
    v = _cache.get(s)
    if v is not None:
        return v
    m = _RFC3339.match(s)
    if m is None:
        return None
    y, mo, d, h, mi, sec = (int(x) for x in m.group(1, 2, 3, 4, 5, 6))
    if not (y >= 1 and 1 <= mo <= 12 and 1 <= d <= calendar.monthrange(y, mo)[1] and h <= 23 and mi <= 59 and sec <= 59):
        return None
    v = float(calendar.timegm((y, mo, d, h, mi, sec)))
    if m.group(7):
        v += float("0" + m.group(7))
    if m.group(9):
        oh, om = int(m.group(10)), int(m.group(11))
        if oh > 23 or om > 59:
            return None
        v -= (1 if m.group(9) == "+" else -1) * (oh * 3600 + om * 60)
    if len(_cache) >= _CACHE_MAX:
        _cache.clear()
    _cache[s] = v
    return v
