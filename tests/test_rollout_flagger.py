"""Flagger recognised: the Deployments `podinfo` and `podinfo-primary` with a flagger.app/v1beta1 Canary `podinfo` are
one rollout with the tracks primary (the baseline) and canary, followed through the Canary's status.

Static manifests applied with the real kubectl to the demo cluster over HTTPS (it serves Flagger's CRD and the
Istio / SMI ones generically; the Canary's status is set with `kubectl patch --subresource=status`, the demo's
Flagger controller told to leave this Canary alone, as when Flagger is not running), then resolved
as `lookout --app podinfo` and `-l 'app in (podinfo,podinfo-primary)'` do, watched by the real Session.

Names, labels and messages follow Flagger's source (github.com/fluxcd/flagger): the primary's selector label
rewritten to NAME-primary and the Services NAME / NAME-primary / NAME-canary (pkg/apis/flagger/v1beta1/canary.go
GetServiceNames), every event with reason `Synced` (pkg/controller/events.go), the phases of
pkg/apis/flagger/v1beta1/status.go, the halt/rollback messages of pkg/controller/scheduler.go,
scheduler_hooks.go and scheduler_metrics.go.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import subprocess
import time

import pytest

from e2e_support import demo_cluster
from tui.config import Settings
from tui.kube.config import load_target
from tui.rollout import flagger
from tui.rollout.events import event_row
from tui.session import Session, resolve_rollout
from widgets.status import roles_text


def _deploy(name: str, app: str, replicas: int) -> str:
    return f"""---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}, namespace: flag, labels: {{app: {app}}}}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: {app}}}}}
  template:
    metadata: {{labels: {{app: {app}}}}}
    spec:
      containers:
        - name: podinfo
          image: ghcr.io/stefanprodan/podinfo:{'6.0.1' if app == 'podinfo' else '6.0.0'}
          ports: [{{name: http, containerPort: 9898}}]
          readinessProbe: {{httpGet: {{path: /readyz, port: 9898}}}}
"""


def _svc(name: str, app: str) -> str:
    return f"""---
apiVersion: v1
kind: Service
metadata: {{name: {name}, namespace: flag}}
spec:
  selector: {{app: {app}}}
  ports: [{{name: http, port: 9898, targetPort: http}}]
"""


FLAG = "\n".join([
    "apiVersion: v1\nkind: Namespace\nmetadata: {name: flag}",
    _deploy("podinfo", "podinfo", 1),
    _deploy("podinfo-primary", "podinfo-primary", 2),
    # Flagger's three Services: the apex and the primary select the primary (its design), the canary the canary
    _svc("podinfo", "podinfo-primary"), _svc("podinfo-primary", "podinfo-primary"), _svc("podinfo-canary", "podinfo"),
    """---
apiVersion: flagger.app/v1beta1
kind: Canary
metadata: {name: podinfo, namespace: flag, annotations: {demo.lookout.dev/controller: "off"}}
spec:
  provider: istio
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}
  service: {port: 9898}
  analysis:
    interval: 30s
    threshold: 5
    stepWeight: 20
    maxWeight: 60
    metrics: [{name: request-success-rate, thresholdRange: {min: 99}, interval: 1m}]
    webhooks:
      - {name: approve-promotion, type: confirm-promotion, url: "http://flagger-loadtester.test/gate/approve"}
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: podinfo, namespace: flag}
spec:
  hosts: [podinfo]
  http:
    - route:
        - {destination: {host: podinfo-primary}, weight: 80}
        - {destination: {host: podinfo-canary}, weight: 20}
---
apiVersion: split.smi-spec.io/v1alpha2
kind: TrafficSplit
metadata: {name: podinfo, namespace: flag}
spec:
  service: podinfo
  backends:
    - {service: podinfo-primary, weight: 80}
    - {service: podinfo-canary, weight: 20}
""",
])


def _kubectl(kubeconfig: str, *args: str, stdin: str | None = None) -> str:
    r = subprocess.run(["/usr/bin/kubectl", "--kubeconfig", kubeconfig, *args], input=stdin, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout


async def _k(cluster, *args: str, stdin: str | None = None) -> str:
    return await asyncio.to_thread(_kubectl, cluster.kubeconfig_path, *args, stdin=stdin)


async def _status(cluster, **status) -> None:
    await _k(cluster, "-n", "flag", "patch", "canary", "podinfo", "--subresource=status", "--type=merge", "-p",
             json.dumps({"status": status}))


async def _until(fn, what: str, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)


async def _pods_ready(cluster, n: int) -> None:
    async def ready() -> bool:
        pods = json.loads(await _k(cluster, "-n", "flag", "get", "pods", "-o", "json"))["items"]
        return len(pods) == n and all(any(c.get("type") == "Ready" and c.get("status") == "True"
                                          for c in (p.get("status") or {}).get("conditions") or ()) for p in pods)

    deadline = time.monotonic() + 30
    while not await ready():
        assert time.monotonic() < deadline, "the pods did not become ready"
        await asyncio.sleep(0.3)


def _event(name: str, message: str, type_: str = "Warning") -> str:
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return json.dumps({
        "apiVersion": "v1", "kind": "Event", "metadata": {"name": name, "namespace": "flag"},
        "involvedObject": {"apiVersion": "flagger.app/v1beta1", "kind": "Canary", "name": "podinfo",
                           "namespace": "flag"},
        "reason": "Synced", "message": message, "type": type_, "firstTimestamp": now, "lastTimestamp": now,
        "count": 1, "source": {"component": "flagger"}})


async def test_flagger_canary_is_one_rollout_with_primary_and_canary_tracks():
    async with demo_cluster(scenario="healthy-canary", speed=1) as cluster:
        await _k(cluster, "apply", "-f", "-", stdin=FLAG)
        target = load_target(cluster.kubeconfig_path, "lookout-demo", "flag")

        # --app podinfo (and the primary's name): the rollout over both Deployments, not the canary as "stable"
        for name in ("podinfo", "podinfo-primary"):
            choice = await resolve_rollout(target, app_name=name, selector=None, all_namespaces=False)
            t = choice.target
            assert (t.kind, t.name, t.selector) == ("Label", "podinfo", "app in (podinfo,podinfo-primary)")
        # the picker: one line for the rollout, neither Deployment on its own
        choice = await resolve_rollout(target, app_name=None, selector=None, all_namespaces=False)
        assert choice.target is not None and choice.target.selector == "app in (podinfo,podinfo-primary)"
        [cand] = [c for c in choice.candidates if c.name == "podinfo"]
        assert cand.members == ("podinfo", "podinfo-primary") and cand.strategy == "canary"
        assert not [c for c in choice.candidates if c.kind == "Deployment"], choice.candidates

        await _pods_ready(cluster, 3)  # the start-up outage is not what this test is about
        session = Session(target, choice, Settings(), demo=True, kubeconfig_path=cluster.kubeconfig_path,
                          debounce=False)
        session.throttle_derived = False
        await session.start()
        try:
            rows = await _until(lambda: (lambda rs: rs if {r.track for r in rs} == {"primary", "canary"}
                                         and len(rs) == 3 else None)(session.pod_rows()), "both tracks' pods")
            assert sorted((r.name.rsplit("-", 2)[0], r.track) for r in rows) == [
                ("podinfo", "canary"), ("podinfo-primary", "primary"), ("podinfo-primary", "primary")]
            roles = session.roles()
            assert (roles.baseline, roles.candidate) == ("primary", "canary")
            assert roles_text(roles) == "primary · canary"

            # no status yet: the controller is named, never taken for "no tracks" or a Service missing a track
            a = await _until(lambda: (lambda a: a if a.network is not None and a.network.endpoints else None)(
                session.assess()), "the network view")
            assert a.progress.controller == "Flagger" and a.progress.roles == "primary · canary"
            codes = {f.code for f in a.findings}
            assert "track-not-selected" not in codes and "service-selects-no-pods" not in codes, a.findings
            # the metrics measure both tracks, the primary as the baseline (its first poll may predate the pods)
            m = await _until(lambda: session.metrics if session.metrics is not None and {
                t.name for t in session.metrics.tracks} >= {"primary", "canary"} else None, "metrics per track", 30)
            assert {t.name: t.role for t in m.tracks} == {"primary": "baseline", "canary": "candidate"}
            assert session.assess().verdict.reasons[0].code != "no-tracks"

            # the traffic split per track: the VirtualService's and the TrafficSplit's routes name the tracks
            a = await _until(lambda: (lambda a: a if len(a.network.endpoints) == 5 and all(
                r.ready for r in a.network.endpoints) else None)(session.assess()), "ready endpoints")
            codes = {f.code for f in a.findings if f.holding}  # the pods' start-up outage has cleared
            layers = {l.layer: l for l in a.network.split}
            assert layers["istio"].weights == (("primary", 80.0), ("canary", 20.0))
            assert layers["smi"].weights == (("primary", 80.0), ("canary", 20.0))
            assert "weights-disagree" not in codes, [(f.code, f.summary, f.holding) for f in a.findings]

            # progressing, 4 of 5 checks failed: the next one rolls back
            await _status(cluster, phase="Progressing", canaryWeight=20, failedChecks=4, iterations=0,
                          conditions=[{"type": "Promoted", "status": "Unknown", "reason": "Progressing",
                                       "message": "New revision detected, progressing canary analysis."}])
            a = await _until(lambda: (lambda a: a if a.progress.flagger and a.progress.flagger.failed_checks == 4
                                      else None)(session.assess()), "the Canary's status")
            p = a.progress
            assert (p.phase, p.step_text, p.actual_weight) == ("Progressing", "1/3", 20)
            assert [s.text for s in p.steps] == ["setWeight 20%", "setWeight 40%", "setWeight 60%"]
            [f] = [f for f in a.findings if f.code == "failed-checks-near-threshold"]
            assert f.severity == "warning" and f.track == "canary" and "failed checks 4/5" in f.summary
            assert a.outcome.state == "progressing" and a.cell("rollout").level == "degraded"
            # the Canary's weight is the reference the routers it writes are checked against
            layers = {l.layer: l for l in a.network.split}
            assert layers["flagger"].weights == (("primary", 80.0), ("canary", 20.0))
            assert not [f for f in a.findings if f.code == "weights-disagree" and f.holding], a.findings
            await _status(cluster, canaryWeight=40)  # the VirtualService still sends 20 %
            a = await _until(lambda: (lambda a: a if [f for f in a.findings if f.code == "weights-disagree"
                                                      and f.holding] else None)(session.assess()), "weights-disagree")
            [wd] = [f for f in a.findings if f.code == "weights-disagree" and f.holding]
            assert wd.track == "canary" and wd.summary == ("Canary/podinfo says canary 40 %, but VirtualService/podinfo "
                                                           "(http[0]) sends 20 % to the canary.")
            assert {f.code for f in a.network.findings} >= {"weights-disagree"}  # the pane: the same findings
            await _status(cluster, canaryWeight=20)

            # a Flagger event: reason Synced, told by its message, marked in the events pane, a finding
            await _k(cluster, "create", "-f", "-", stdin=_event(
                "podinfo.1", "Halt advancement no values found for istio metric request-success-rate probably "
                             "podinfo.flag is not receiving traffic: running query failed: no values found",
                "Normal"))
            ev = await _until(lambda: next((e for e in session.store.list("events", "flag")
                                            if e["metadata"]["name"] == "podinfo.1"), None), "the event")
            row = event_row(ev)
            assert row.reason == "Synced/NoTraffic" and row.warning  # warning-like though recorded Normal
            assert session.event_relevant(ev)
            a = session.assess()
            [nt] = [f for f in a.findings if f.code == "no-traffic"]
            assert nt.track == "canary" and "not receiving traffic" in nt.summary

            # waiting at the confirm-promotion gate: awaiting approval, a hold
            await _status(cluster, phase="WaitingPromotion", canaryWeight=60, failedChecks=0)
            a = await _until(lambda: (lambda a: a if a.progress.phase == "WaitingPromotion" else None)(
                session.assess()), "WaitingPromotion")
            [w] = [f for f in a.findings if f.code == "awaiting-approval"]
            assert w.severity == "info" and "confirm-promotion approve-promotion" in w.summary
            assert a.progress.pause_kind == "approval" and a.outcome.state == "paused"
            assert a.exit_code == 2
            # `lookout status --json`: the Canary's status in the progress, the phase in the Canary's words
            from tui.status import build_report

            report = json.loads(json.dumps(build_report(session, a, "direct scrape")))
            assert report["rollout"]["controller"] == "flagger" and report["rollout"]["phase"] == "WaitingPromotion"
            fl = report["progress"]["flagger"]
            assert (fl["phase"], fl["canary_weight"], fl["failed_checks"], fl["threshold"]) == (
                "WaitingPromotion", 60, 0, 5)
            assert fl["gates"] == ["confirm-promotion approve-promotion"]
            assert report["progress"]["pause"]["kind"] == "approval"
            assert {f["code"]: f["cell"] for f in report["findings"]}["awaiting-approval"] == "rollout"

            # failed: Flagger rolled back, the verdict is rollback as for an Argo abort
            await _k(cluster, "create", "-f", "-", stdin=_event(
                "podinfo.2", "Rolling back podinfo.flag failed checks threshold reached 5"))
            await _status(cluster, phase="Failed", canaryWeight=0, failedChecks=5, conditions=[
                {"type": "Promoted", "status": "False", "reason": "Failed",
                 "message": "Canary analysis failed, Deployment scaled to zero."}])
            a = await _until(lambda: (lambda a: a if a.outcome.state == "aborted" else None)(session.assess()),
                             "Failed")
            assert a.decision == "rollback" and a.exit_code == 1
            [ab] = [f for f in a.findings if f.code == "rollout-aborted"]
            assert "Canary analysis failed" in ab.summary
            assert ("event", "Rolling back podinfo.flag failed checks threshold reached 5") in ab.evidence
            assert a.cell("rollout").level == "critical"
            # the built-in runbook that fits: its commands name the Canary, its actions are refused (Flagger's)
            from tui.runbooks.context import where_for
            from tui.runbooks.model import load_catalog
            from tui.runbooks.runner import plan
            from tui.runbooks.suggest import suggest

            catalog = load_catalog(include_user_dir=False)
            [rb] = [s.runbook for s in suggest(catalog.runbooks, a) if s.runbook.id == "unexpected-rollback"]
            where = where_for(session, a)
            steps = [plan(rb, i, where) for i in range(len(rb.steps))]
            assert steps[0].argv[-2:] == ("canary", "podinfo") and steps[0].refused is None, steps[0]
            [retry] = [s for s in steps if s.step.kind == "action"]
            assert retry.refused and "Flagger drives this Canary" in retry.refused
        finally:
            await session.stop()

        # -l 'app in (podinfo,podinfo-primary)': the same rollout, with its tracks and no false findings
        choice = await resolve_rollout(target, app_name=None, selector="app in (podinfo,podinfo-primary)",
                                       all_namespaces=False)
        session = Session(target, choice, Settings(), demo=True, kubeconfig_path=cluster.kubeconfig_path,
                          debounce=False)
        session.throttle_derived = False
        await session.start()
        try:
            await _until(lambda: session.flagger_canary() is not None and {r.track for r in session.pod_rows()}
                         >= {"primary"}, "the Canary and the primary track")
            rows = session.pod_rows()
            assert {r.track for r in rows if r.name.startswith("podinfo-primary")} == {"primary"}
            a = session.assess()
            assert a.progress.controller == "Flagger"
            assert "track-not-selected" not in {f.code for f in a.findings}, a.findings
            assert a.verdict.reasons[0].code != "no-tracks"
        finally:
            await session.stop()


def test_flagger_event_messages_are_classified():
    """Messages as Flagger formats them (pkg/controller/scheduler*.go); every one has reason Synced."""
    cases = {
        "Halt podinfo.test advancement success rate 91.20% < 99%": ("Halt", True),
        "Halt podinfo.test advancement request duration 1.2s > 500ms": ("Halt", True),
        "Halt advancement no values found for istio metric request-success-rate probably podinfo.test is not "
        "receiving traffic: running query failed: no values found": ("NoTraffic", True),
        "Halt podinfo.test advancement waiting for promotion approval approve": ("WaitingApproval", True),
        "Halt podinfo.test advancement waiting for approval gate": ("WaitingApproval", True),
        "Rolling back podinfo.test failed checks threshold reached 5": ("RollingBack", True),
        "Canary failed! Scaling down podinfo.test": ("CanaryFailed", True),
        "Advance podinfo.test canary weight 20": ("Advance", False),
        "Advance podinfo.test canary iteration 3/10": ("Advance", False),
        "New revision detected! Scaling up podinfo.test": ("NewRevision", False),
        "Promotion completed! Scaling down podinfo.test": ("Promoted", False),
        "Copying podinfo.test template spec to podinfo-primary.test": ("Promoting", False),
    }
    for msg, want in cases.items():
        assert flagger.classify_message(msg) == want, msg
    assert flagger.classify_message("something else") is None
    ev = {"metadata": {"name": "e", "namespace": "test"}, "reason": "Synced", "type": "Normal",
          "message": "Advance podinfo.test canary weight 20",
          "involvedObject": {"kind": "Canary", "name": "podinfo", "apiVersion": "flagger.app/v1beta1"}}
    row = event_row(ev)
    assert (row.reason, row.warning) == ("Synced/Advance", False)
    # another controller's Synced event is left as it is
    other = dict(ev, involvedObject={"kind": "Deployment", "name": "podinfo"}, message="Halt everything")
    assert event_row(other).reason == "Synced"


def test_failed_checks_are_info_until_one_more_rolls_back():
    def progress(failed, threshold=5, phase="Progressing"):
        c = {"metadata": {"name": "podinfo", "namespace": "t"},
             "spec": {"targetRef": {"name": "podinfo"}, "analysis": {"threshold": threshold, "stepWeight": 10}},
             "status": {"phase": phase, "failedChecks": failed, "canaryWeight": 10}}
        return flagger.flagger_progress(c, [], now=0.0)

    sev = {n: [f.severity for f in flagger.flagger_findings(progress(n)) if f.code == "failed-checks-near-threshold"]
           for n in range(0, 5)}
    assert sev == {0: [], 1: ["info"], 2: ["info"], 3: ["info"], 4: ["warning"]}
    assert [f.code for f in flagger.flagger_findings(progress(5, phase="Failed"))] == ["rollout-aborted"]
    assert flagger.flagger_findings(progress(0, phase="Succeeded")) == []
    assert progress(0, phase="Succeeded").complete


# ---- the header and strip on screen ----------------------------------------------------------------------

SNAP_SIZES = {"80x24": (80, 24), "120x40": (120, 40)}


def _flagger_app():
    """A Flagger rollout played on the demo cluster's state (deterministic clock and seed): podinfo-primary (2) and
    podinfo (1) from FLAG's manifests, the Canary progressing at 20 % with 4 of 5 checks failed."""
    import yaml

    from assessment_support import Player
    from tui.app import LookoutApp
    from tui.rollout.target import Target
    from tui.session import RolloutChoice

    async def play():
        p = await Player("healthy-canary").start()
        try:
            canary = None
            for doc in yaml.safe_load_all(FLAG):
                if doc["kind"] == "Namespace":
                    continue
                doc["metadata"]["namespace"] = p.ns
                if doc["kind"] == "Canary":
                    canary = doc
                elif doc["kind"] in ("Deployment", "Service"):
                    p.state.create(doc, res=doc["kind"].lower() + "s")
            canary["status"] = {"phase": "Progressing", "canaryWeight": 20, "failedChecks": 4, "iterations": 0,
                                "conditions": [{"type": "Promoted", "status": "Unknown", "reason": "Progressing",
                                                "message": "New revision detected, progressing canary analysis."}]}
            p.target = Target("Label", "podinfo", p.ns, "app in (podinfo,podinfo-primary)")
            p.session.choice = RolloutChoice(p.target, p.ns)
            sync = p.sync

            def sync_with_canary():
                sync()  # the demo state's objects, then the hand-set Canary (not in the state: no controller runs it)
                p.session.store.replace("canaries", [canary], scope=lambda k: k[0] == p.ns)
                p.session.rebuild_resolver()

            p.sync = sync_with_canary
            await p.play(20)
        finally:
            await p.stop()
        return p

    p = asyncio.new_event_loop().run_until_complete(play())
    return LookoutApp(p.session, clock=p.session.clock, check_tty=False)


@pytest.mark.parametrize("size", sorted(SNAP_SIZES))
def test_flagger_strip_and_header_snapshot(snap_compare, size):
    async def settle(pilot):
        await pilot.pause(0.3)
        header = pilot.app.query_one("StatusHeader")._last.plain
        assert "primary · canary" in header and "step 1/3" in header and "weight 20%" in header, header
        text = pilot.app.query_one("#rollout-strip")._last.plain
        assert "Progressing" in text and "failed checks 4/5" in text, text
        if size == "120x40":
            assert text.startswith("Flagger canary"), text

    assert snap_compare(_flagger_app(), terminal_size=SNAP_SIZES[size], run_before=settle)


async def test_flagger_podinfo_scenario_is_followed_from_advance_to_rollback():
    """The demo's Flagger (tui/demo/controllers/flagger.py) playing flagger-podinfo, watched as `lookout demo`
    does: one rollout with the tracks primary (baseline) and canary, the weight stepping up, failed checks counted
    towards the threshold, then Flagger's rollback read as ROLLBACK with `rollout-aborted`; never a verdict of
    rollback from the canary's first handful of requests."""
    from assessment_support import Player
    from widgets.progress import RolloutStrip

    p = await Player("flagger-podinfo").start()
    try:
        assert (p.target.kind, p.target.selector) == ("Label", "app in (podinfo,podinfo-primary)")
        seen: dict[str, object] = {}
        weights, checks = set(), set()
        for t in range(5, 181, 5):
            a = await p.play(t)
            fs = a.progress.flagger if a.progress is not None else None
            if fs is None:
                continue
            seen.setdefault(fs.phase, (t, a))
            weights.add(fs.canary_weight)
            checks.add(fs.failed_checks)
            if fs.phase == "Progressing" and fs.failed_checks == 0:
                assert a.decision != "rollback", (t, [(r.code, r.text) for r in a.verdict.reasons])
        _, mid = seen["Progressing"]
        assert (mid.roles.baseline, mid.roles.candidate) == ("primary", "canary")
        assert {10, 20, 30} <= weights and max(checks) >= 4
        t_fail, end = seen["Failed"]
        assert end.outcome.state == "aborted" and end.decision == "rollback"
        f = next(f for f in end.findings if f.code == "rollout-aborted")
        assert f.severity == "critical" and "0/5" not in f.summary
        strip = RolloutStrip.render_compact(end.progress).plain
        assert "Failed" in strip and "✗ rolled back (threshold 5)" in strip and "✓ failed checks" not in strip
    finally:
        await p.stop()
