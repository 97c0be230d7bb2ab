"""pod_row: kubectl-like STATUS, ready x/y, restarts, state class, cleaned messages."""

from __future__ import annotations

import pytest

from test_rollout_fixtures import (NOW, config_error_cs, crashloop_cs, evicted_pod, image_pull_cs, oom_cs, pod,
                                   running_cs, ts, unschedulable_pod)
from tui.rollout.pods import PodRow, parse_time, pod_row, state_of


def test_running_ready_pod():
    r = pod_row(pod("checkout-6b8f7c9d5-abcde"), "stable", NOW)
    assert isinstance(r, PodRow)
    assert (r.status, r.ready, r.total, r.restarts, r.state) == ("Running", 1, 1, 0, "ok")
    assert (r.namespace, r.name, r.track, r.node, r.ip) == ("demo", "checkout-6b8f7c9d5-abcde", "stable", "node-1", "10.1.0.5")
    assert r.created == NOW - 900


def test_crashloop_shows_waiting_reason_and_sums_restarts():
    p = pod("c", containers=[crashloop_cs("app", 5), running_cs("sidecar", restarts=1)])
    r = pod_row(p, "canary", NOW)
    assert r.status == "CrashLoopBackOff"
    assert r.state == "fail"
    assert (r.ready, r.total, r.restarts) == (1, 2, 6)
    assert r.message.startswith("back-off 2m40s restarting failed container=app")


def test_first_waiting_container_wins_like_kubectl():
    p = pod("c", containers=[image_pull_cs("app"), crashloop_cs("sidecar")])
    assert pod_row(p, None, NOW).status == "ImagePullBackOff"


@pytest.mark.parametrize("cs,status", [
    (config_error_cs(), "CreateContainerConfigError"),
    (image_pull_cs(), "ImagePullBackOff"),
])
def test_waiting_failures(cs, status):
    r = pod_row(pod("p", containers=[cs]), None, NOW)
    assert (r.status, r.state) == (status, "fail")
    assert r.message


def test_config_error_message_kept():
    r = pod_row(pod("p", containers=[config_error_cs()]), None, NOW)
    assert r.message == "couldn't find key DATABASE_URL in ConfigMap demo/checkout-config"


def test_recent_oomkill_on_ready_pod_is_warn_with_reason():
    r = pod_row(pod("p", containers=[oom_cs()]), None, NOW)
    assert (r.status, r.state, r.restarts) == ("Running", "warn", 3)
    assert "OOMKilled" in r.message and "137" in r.message


def test_old_restart_is_ok():
    cs = running_cs(restarts=2, last={"exitCode": 1, "reason": "Error", "finishedAt": ts(7200)})
    assert pod_row(pod("p", containers=[cs]), None, NOW).state == "ok"


def test_currently_oomkilled_container():
    cs = {"name": "app", "ready": False, "restartCount": 4,
          "state": {"terminated": {"exitCode": 137, "reason": "OOMKilled", "finishedAt": ts(2)}}, "lastState": {}}
    r = pod_row(pod("p", containers=[cs]), None, NOW)
    assert (r.status, r.state) == ("OOMKilled", "fail")


def test_terminated_without_reason_shows_exit_code():
    cs = {"name": "app", "ready": False, "restartCount": 0, "state": {"terminated": {"exitCode": 3}}}
    assert pod_row(pod("p", containers=[cs]), None, NOW).status == "ExitCode:3"
    cs = {"name": "app", "ready": False, "restartCount": 0, "state": {"terminated": {"exitCode": 0, "signal": 9}}}
    assert pod_row(pod("p", containers=[cs]), None, NOW).status == "Signal:9"


def test_unschedulable():
    r = pod_row(unschedulable_pod("p"), "canary", NOW)
    assert (r.status, r.state, r.node, r.ready, r.total) == ("Unschedulable", "fail", "", 0, 1)
    assert "Insufficient memory" in r.message


def test_plain_pending_and_container_creating():
    p = pod("p", phase="Pending", containers=[], conditions=[{"type": "PodScheduled", "status": "True"}])
    del p["status"]["containerStatuses"]
    assert (pod_row(p, None, NOW).status, pod_row(p, None, NOW).state) == ("Pending", "pending")
    cs = {"name": "app", "ready": False, "restartCount": 0, "state": {"waiting": {"reason": "ContainerCreating"}}}
    r = pod_row(pod("p", phase="Pending", containers=[cs]), None, NOW)
    assert (r.status, r.state) == ("ContainerCreating", "pending")


def test_evicted():
    r = pod_row(evicted_pod("p"), "stable", NOW)
    assert (r.status, r.state) == ("Evicted", "fail")
    assert r.message.startswith("The node was low on resource: memory")


def test_terminating():
    p = pod("p")
    p["metadata"]["deletionTimestamp"] = ts(5)
    r = pod_row(p, None, NOW)
    assert (r.status, r.state) == ("Terminating", "pending")


def test_completed():
    cs = {"name": "job", "ready": False, "restartCount": 0,
          "state": {"terminated": {"exitCode": 0, "reason": "Completed", "finishedAt": ts(50)}}}
    r = pod_row(pod("p", phase="Succeeded", containers=[cs]), None, NOW)
    assert (r.status, r.state) == ("Completed", "done")


def test_init_containers_progress_and_failure():
    p = pod("p", phase="Pending", containers=[{"name": "app", "ready": False, "restartCount": 0,
                                                "state": {"waiting": {"reason": "PodInitializing"}}}],
            conditions=[{"type": "Initialized", "status": "False", "reason": "ContainersNotInitialized"},
                        {"type": "PodScheduled", "status": "True"}])
    p["spec"]["initContainers"] = [{"name": "migrate"}, {"name": "warm"}]
    p["status"]["initContainerStatuses"] = [
        {"name": "migrate", "ready": True, "restartCount": 0, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
        {"name": "warm", "ready": False, "restartCount": 0, "state": {"running": {"startedAt": ts(3)}}},
    ]
    r = pod_row(p, None, NOW)
    assert (r.status, r.state) == ("Init:1/2", "pending")
    p["status"]["initContainerStatuses"][1] = {
        "name": "warm", "ready": False, "restartCount": 3,
        "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s"}}}
    r = pod_row(p, None, NOW)
    assert (r.status, r.state, r.restarts) == ("Init:CrashLoopBackOff", "fail", 3)


def test_running_not_ready_is_warn():
    r = pod_row(pod("p", containers=[running_cs(ready=False)]), None, NOW)
    assert (r.status, r.ready, r.total, r.state) == ("Running", 0, 1, "warn")


def test_message_is_cleaned_to_one_line():
    cs = crashloop_cs()
    cs["state"]["waiting"]["message"] = "bad\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\ [bold]x[/bold]\nnext\x1bc"
    r = pod_row(pod("p", containers=[cs]), None, NOW)
    assert r.message == "badlink [bold]x[/bold] next"


def test_missing_everything_does_not_crash():
    r = pod_row({"metadata": {"name": "x"}}, None, NOW)
    assert (r.name, r.status, r.total, r.created) == ("x", "Pending", 0, None)


def test_parse_time():
    assert parse_time("2025-10-09T08:53:20Z") == NOW
    assert parse_time("2025-10-09T08:53:20.500000Z") == NOW + 0.5
    assert parse_time("garbage") is None and parse_time(None) is None


def test_state_of_words():
    assert state_of("Init:ErrImagePull", 0, 1) == "fail"
    assert state_of("Running", 2, 2) == "ok"
    assert state_of("NotReady", 1, 2) == "warn"
    assert state_of("Completed", 0, 1) == "done"
