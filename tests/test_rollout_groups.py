"""Manual rollouts recognised as an SRE means them: Deployments sharing an app and differing by a track convention.

Applied with the real kubectl to the demo cluster over HTTPS, then resolved the way `lookout --app X` and the
picker do (tui.session.resolve_rollout over the same client); tracks from the real Session's store.
"""

from __future__ import annotations

import asyncio
import subprocess
import time

import pytest

from e2e_support import demo_cluster
from tui.config import Settings
from tui.kube.config import load_target
from tui.rollout.target import Candidate, app_groups, candidates, resolve_target
from tui.session import Session, resolve_rollout



def _deploy(name: str, labels: dict, replicas: int = 1, port: bool = True) -> str:
    sel = ", ".join(f"{k}: {v}" for k, v in labels.items())
    ports = "\n          ports: [{name: http, containerPort: 8080}]" if port else ""
    return f"""---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}, namespace: shop, labels: {{{sel}}}}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{{sel}}}}}
  template:
    metadata: {{labels: {{{sel}}}}}
    spec:
      containers:
        - name: app
          image: registry.demo/{name}:1{ports}
"""


SHOP = "\n".join([
    "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}",
    # the Kubernetes docs' canary, with a Deployment named like the app
    _deploy("myapp", {"app": "myapp", "track": "stable"}, 3),
    _deploy("myapp-canary", {"app": "myapp", "track": "canary"}, 1),
    # a blue/green pair
    _deploy("checkout-blue", {"app": "checkout", "environment": "blue"}, 2),
    _deploy("checkout-green", {"app": "checkout", "environment": "green"}, 2),
    # bookinfo style: only version labels
    _deploy("reviews-v1", {"app": "reviews", "version": "v1"}, 2),
    # a worker: one Deployment, no tracks
    _deploy("worker", {"app": "worker"}, 1, port=False),
])
REVIEWS_V2 = _deploy("reviews-v2", {"app": "reviews", "version": "v2"}, 1)


def _kubectl(kubeconfig: str, *args: str, stdin: str | None = None) -> str:
    r = subprocess.run(["/usr/bin/kubectl", "--kubeconfig", kubeconfig, *args], input=stdin, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout


async def _apply(cluster, text: str) -> None:
    await asyncio.to_thread(_kubectl, cluster.kubeconfig_path, "apply", "-f", "-", stdin=text)


async def test_picker_lists_rollouts_not_deployments_and_app_names_the_group():
    async with demo_cluster(scenario="healthy-canary", speed=1) as cluster:
        await _apply(cluster, SHOP)
        await asyncio.sleep(1.1)  # reviews-v2 is newer than reviews-v1 (creationTimestamp has seconds)
        await _apply(cluster, REVIEWS_V2)
        target = load_target(cluster.kubeconfig_path, "lookout-demo", "shop")

        choice = await resolve_rollout(target, app_name=None, selector=None, all_namespaces=False)
        assert choice.target is None
        lines = {str(c) for c in choice.candidates}
        assert "app shop/myapp (myapp + myapp-canary)" in lines
        assert "app shop/checkout (checkout-blue + checkout-green)" in lines
        assert "app shop/reviews (reviews-v1 + reviews-v2)" in lines
        assert "Deployment shop/worker" in lines
        assert not any(c.kind == "Deployment" and c.name in ("myapp", "myapp-canary", "checkout-blue")
                       for c in choice.candidates), lines
        by = {c.name: c for c in choice.candidates}
        assert by["checkout"].strategy == "bluegreen" and by["myapp"].strategy == "canary"
        assert by["myapp"].ready.endswith("/4") and by["myapp"].phase in ("Healthy", "Progressing")

        # --app myapp: the Deployment named like the app is one half; the group is watched
        for name in ("myapp", "myapp-canary"):
            choice = await resolve_rollout(target, app_name=name, selector=None, all_namespaces=False)
            assert (choice.target.kind, choice.target.name, choice.target.selector) == ("Label", "myapp", "app=myapp")

        # version labels give tracks: the older version is the baseline
        choice = await resolve_rollout(target, app_name="reviews", selector=None, all_namespaces=False)
        session = Session(target, choice, Settings(), demo=True, kubeconfig_path=cluster.kubeconfig_path)
        await session.start()
        try:
            deadline = time.monotonic() + 20
            while True:
                rows = session.pod_rows()
                tracks = {r.track for r in rows}
                if tracks >= {"stable", "canary"} or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.2)
            assert tracks == {"stable", "canary"}, [(r.name, r.track) for r in rows]
            v2 = [r for r in rows if r.name.startswith("reviews-v2")]
            assert v2 and all(r.track == "canary" for r in v2)
            assert session.roles().baseline == "stable"
        finally:
            await session.stop()


def _d(name: str, labels: dict, created: str = "2026-01-01T00:00:00Z") -> dict:
    return {"metadata": {"name": name, "namespace": "ns", "creationTimestamp": created},
            "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}}},
            "status": {"replicas": 1, "updatedReplicas": 1, "readyReplicas": 1, "availableReplicas": 1}}


def test_one_version_or_no_track_convention_is_not_a_group():
    assert app_groups([_d("reviews-v1", {"app": "reviews", "version": "v1"})]) == []
    # two Deployments of one app with nothing telling them apart: separate things, not tracks
    assert app_groups([_d("api", {"app": "api"}), _d("api-2", {"app": "api"})]) == []
    # the Flagger-like name pair with a track word only in the name still groups when the label is shared
    g = app_groups([_d("web", {"app": "web"}), _d("web-canary", {"app": "web"})])
    assert [x.app for x in g] == ["web"] and g[0].tracks == ("", "canary")


def test_version_tracks_older_is_stable():
    from tui.rollout.tracks import version_tracks

    ds = [_d("r1", {"app": "r", "version": "v1"}, "2026-01-01T00:00:00Z"),
          _d("r2", {"app": "r", "version": "v2"}, "2026-01-02T00:00:00Z")]
    assert version_tracks(ds, lambda labels: labels.get("app") == "r") == {"v1": "stable", "v2": "canary"}
    assert version_tracks(ds[:1], lambda labels: True) == {}


def test_ambiguous_message_names_the_apps():
    from tui.rollout.target import AmbiguousTarget

    ds = [_d("a-stable", {"app": "a", "track": "stable"}), _d("a-canary", {"app": "a", "track": "canary"}),
          _d("b-blue", {"app": "b", "environment": "blue"}), _d("b-green", {"app": "b", "environment": "green"})]
    with pytest.raises(AmbiguousTarget) as e:
        resolve_target(None, None, [], ds, [], "ns")
    assert "app ns/a (a-canary + a-stable)" in str(e.value) and "app ns/b (b-blue + b-green)" in str(e.value)
    assert all(isinstance(c, Candidate) and c.members for c in e.value.candidates)
    # one group alone is the target
    t = resolve_target(None, None, [], ds[:2], [], "ns")
    assert (t.kind, t.selector) == ("Label", "app=a")
    assert candidates([], ds, [], "ns")[0].strategy == "canary"


async def test_bluegreen_pair_strip_shows_each_deployment_and_follows_a_scale():
    """The manual blue/green pair has no controller: the strip lists each colour's Deployment with its replicas,
    and scaling one (what `kubectl scale --replicas=8` does to the spec) shows at once, before any pod exists."""
    from assessment_support import Player

    p = await Player("bluegreen-switch").start()
    try:
        a = await p.play(40)
        pr = a.progress
        assert (pr.controller, pr.kind, pr.strategy) == ("Deployments", "Label", "bluegreen")
        by = {r.replicasets[0]: r for r in pr.revisions}
        assert by["checkout-green"].role == "green" and by["checkout-green"].images == (
            "registry.demo/checkout:1.5.0",)
        assert (pr.desired, pr.ready) == (6, 6) and pr.phase == "Healthy"

        def scale(d):
            d["spec"]["replicas"] = 8

        p.state.mutate("deployments", p.ns, "checkout-green", scale)
        p.sync()
        pr = p.session.assess().progress
        assert pr.desired == 11 and {r.replicasets[0]: r.desired for r in pr.revisions}["checkout-green"] == 8
    finally:
        await p.stop()


async def test_picker_shows_one_line_per_rollout_with_strategy_phase_and_members():
    from textual.app import App
    from textual.widgets import OptionList

    from widgets.picker import RolloutPicker

    ds = [_d("a-stable", {"app": "a", "track": "stable"}), _d("a-canary", {"app": "a", "track": "canary"}),
          _d("b-blue", {"app": "b", "environment": "blue"}), _d("b-green", {"app": "b", "environment": "green"}),
          _d("worker", {"app": "worker"})]
    cands = candidates([], ds, [], "ns")

    class Host(App):
        def on_mount(self) -> None:
            self.push_screen(RolloutPicker(cands, "namespace ns"))

    app = Host()
    async with app.run_test(size=(120, 20)) as pilot:
        await pilot.pause(0.2)
        opts = app.screen.query_one(OptionList)
        lines = [str(opts.get_option_at_index(i).prompt.plain) for i in range(opts.option_count)]
    assert len(lines) == 3, lines
    assert lines[0].startswith("✓ app") and "ns/a" in lines[0], lines  # the health symbol first
    assert "canary · Healthy · ready 2/2 · a-canary + a-stable" in lines[0], lines
    assert "bluegreen · Healthy" in lines[1] and "b-blue + b-green" in lines[1]
    assert lines[2].startswith("✓ Deployment") and "ns/worker" in lines[2]


async def test_manual_canary_scenario_with_a_deployment_named_like_the_app_is_one_rollout_with_two_tracks():
    """manual-canary-named-app (Deployments myapp and myapp-canary behind one Service, the Kubernetes docs'
    pattern) played as `lookout demo` follows it: the app, not the Deployment named like it; stable the baseline,
    canary the candidate; the strip lists both halves as the canary grows."""
    from assessment_support import played

    p = await played("manual-canary-named-app", 60)
    assert (p.target.kind, p.target.name, p.target.selector) == ("Label", "myapp", "app=myapp")
    a = p.assessments[-1][1]
    assert (a.roles.baseline, a.roles.candidate) == ("stable", "canary")
    rows = {r.role: (r.ready, r.desired) for r in a.progress.revisions}
    assert rows["stable"] == (3, 3) and rows["canary"][1] >= 2
    assert a.decision == "promote" and not [f for f in a.findings if f.severity != "info"]
