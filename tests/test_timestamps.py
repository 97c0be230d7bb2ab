"""One timestamp parser: tui.kube.timestamps.parse_time reads RFC 3339 as the API server writes it."""

from __future__ import annotations

import datetime as dt

import pytest

from tui.kube import timestamps
from tui.kube.timestamps import parse_time

T0 = dt.datetime(2024, 5, 1, 12, 0, 0, tzinfo=dt.timezone.utc).timestamp()


@pytest.mark.parametrize("s,want", [
    ("2024-05-01T12:00:00Z", T0),
    ("2024-05-01t12:00:00z", T0),
    ("2024-05-01 12:00:00Z", T0),
    ("2024-05-01T12:00:00+00:00", T0),
    ("2024-05-01T14:30:00+02:30", T0),
    ("2024-05-01T07:00:00-05:00", T0),
    ("2024-05-01T14:00:00+0200", T0),
    ("2024-05-01T12:00:00", T0),  # no offset: UTC, never local time
    ("2024-05-01T12:00:00.5Z", T0 + 0.5),
    ("2024-05-01T12:00:00.123456Z", T0 + 0.123456),  # MicroTime
    ("2024-05-01T12:00:00.123456789Z", T0 + 0.123456789),  # RFC3339Nano
    ("2024-02-29T00:00:00Z", dt.datetime(2024, 2, 29, tzinfo=dt.timezone.utc).timestamp()),
    ("1970-01-01T00:00:00Z", 0.0),
])
def test_rfc3339(s, want):
    assert parse_time(s) == pytest.approx(want, abs=1e-6)


@pytest.mark.parametrize("bad", [
    None, "", " ", "now", "2024-05-01", "12:00:00", "2024-05-01T12:00Z", "2023-02-29T00:00:00Z",
    "2024-13-01T00:00:00Z", "2024-05-32T00:00:00Z", "2024-05-01T24:00:00Z", "2024-05-01T12:60:00Z",
    "2024-05-01T12:00:61Z", "2024-05-01T12:00:00+25:00", "2024-05-01T12:00:00.Z", "20240501T120000Z",
    " 2024-05-01T12:00:00Z", "2024-05-01T12:00:00Z junk", "0000-01-01T00:00:00Z", {}, [], True,
])
def test_bad_input_is_none(bad):
    assert parse_time(bad) is None


def test_numbers_are_epoch_seconds():
    assert parse_time(1714564800) == 1714564800.0 and parse_time(1.5) == 1.5


def test_the_cache_is_bounded(monkeypatch):
    monkeypatch.setattr(timestamps, "_CACHE_MAX", 3)
    monkeypatch.setattr(timestamps, "_cache", {})
    for i in range(10):
        assert parse_time(f"2024-05-01T12:00:0{i}Z") == T0 + i
    assert len(timestamps._cache) <= 3


def test_every_caller_uses_it():
    from tui.demo import controllers, tables
    from tui.rollout import pods

    assert pods.parse_time is parse_time and tables._parse_ts is parse_time and controllers.parse_ts is parse_time
