"""Event rows and the filter for the rollout's own events."""

from __future__ import annotations

from test_rollout_fixtures import NOW, event, ts
from tui.rollout.events import event_row, event_time, relevant


def test_event_row_from_core_v1():
    ev = event("checkout-c0.17f", reason="BackOff", obj_name="checkout-c0", count=12, ago=4,
               message="Back-off restarting failed container app in pod checkout-c0_demo(uid)")
    r = event_row(ev)
    assert (r.namespace, r.name, r.type, r.reason, r.object, r.count, r.warning) == (
        "demo", "checkout-c0.17f", "Warning", "BackOff", "Pod/checkout-c0", 12, True)
    assert r.last == NOW - 4
    assert r.message.startswith("Back-off restarting")


def test_time_fallbacks():
    ev = {"metadata": {"name": "e", "namespace": "demo", "creationTimestamp": ts(50)}, "involvedObject": {}}
    assert event_time(ev) == NOW - 50
    ev["firstTimestamp"] = ts(40)
    assert event_time(ev) == NOW - 40
    ev["series"] = {"count": 3, "lastObservedTime": "2025-10-09T08:53:10.123456Z"}
    assert event_time(ev) == NOW - 10 + 0.123456
    ev["eventTime"] = "2025-10-09T08:53:15.000000Z"
    assert event_time(ev) == NOW - 5
    ev["lastTimestamp"] = ts(1)
    assert event_time(ev) == NOW - 1
    assert event_row(ev).count == 3  # no count field: the series' count


def test_series_count_and_normal_type():
    ev = {"metadata": {"name": "e", "namespace": "demo"}, "involvedObject": {"kind": "Rollout", "name": "checkout"},
          "reason": "RolloutStepCompleted", "message": "Rollout step 1/8 completed (setWeight: 20)", "type": "Normal",
          "series": {"count": 4, "lastObservedTime": ts(3)}}
    r = event_row(ev)
    assert (r.count, r.warning, r.object) == (4, False, "Rollout/checkout")


def test_message_with_control_sequences_and_markup_is_plain():
    ev = event("e", reason="Unhealthy", message="[bold]x[/bold] [@click=app.quit]x[/] \x1b]8;;http://x\x1b\\y\x1bc\nz")
    assert event_row(ev).message == "[bold]x[/bold] [@click=app.quit]x[/] y z"


def test_relevant():
    names = {"Pod/checkout-c0", "checkout-6b8f7c9d5", "Rollout/checkout"}
    assert relevant(event("e", reason="x", message="", obj_kind="Pod", obj_name="checkout-c0"), names)
    assert relevant(event("e", reason="x", message="", obj_kind="ReplicaSet", obj_name="checkout-6b8f7c9d5"), names)
    assert relevant(event("e", reason="x", message="", obj_kind="Rollout", obj_name="checkout"), names)
    assert not relevant(event("e", reason="x", message="", obj_kind="Service", obj_name="checkout"), names)
    assert not relevant({"metadata": {"name": "e"}}, names)
