"""A Flagger rollout in the picker and the `lookout status -A` overview: one line, KIND `Canary`, with the Canary's
phase and weight (as `kubectl get canaries` shows STATUS and WEIGHT: Flagger's printer columns,
artifacts/flagger/crd.yaml), never "app" nor its two Deployments on their own lines.

Played on the demo's Flagger (flagger-podinfo) and served by the demo cluster over HTTPS for `status -A`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

import pytest

from assessment_support import Player
from test_status import cluster  # noqa: F401 - the fixture: a demo cluster in a thread
from tui.rollout.target import candidates
from tui.status import add_status_arguments, run_status


def _store_at(seconds: float) -> tuple[list[dict], list[dict]]:
    """(Canaries, Deployments) of flagger-podinfo at `seconds` on the demo clock."""
    async def go():
        p = await Player("flagger-podinfo").start()
        try:
            await p.play(seconds)
        finally:
            await p.stop()
        s = p.session.store
        return s.list("canaries"), s.list("deployments")

    return asyncio.new_event_loop().run_until_complete(go())


def test_flagger_candidate_is_a_canary_with_phase_and_weight():
    canaries, deployments = _store_at(60)  # advanced to 20 %
    [c] = candidates([], deployments, [], "test", canaries=canaries)
    assert (c.kind_word, c.name, c.phase, c.weight, c.health, c.symbol) == (
        "Canary", "podinfo", "Progressing", "20", "progressing", "…")
    assert c.members == ("podinfo", "podinfo-primary") and c.ready == "2/2" and c.strategy == "canary"
    assert str(c) == "Canary test/podinfo (podinfo + podinfo-primary)"
    # picking it watches both Deployments, as `--app podinfo` does
    t = c.target()
    assert (t.kind, t.name, t.selector) == ("Label", "podinfo", "app in (podinfo,podinfo-primary)")

    canaries, deployments = _store_at(180)  # rolled back
    [c] = candidates([], deployments, [], "test", canaries=canaries)
    assert (c.kind_word, c.phase, c.weight, c.health, c.symbol) == ("Canary", "Failed", "0", "aborted", "✗")


async def test_picker_line_names_the_canary_phase_and_weight():
    from textual.app import App
    from textual.widgets import OptionList

    from widgets.picker import RolloutPicker

    canaries, deployments = await asyncio.to_thread(_store_at, 60)
    worker = {"metadata": {"name": "worker", "namespace": "test"},
              "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "worker"}},
                       "template": {"metadata": {"labels": {"app": "worker"}}}},
              "status": {"replicas": 1, "updatedReplicas": 1, "readyReplicas": 1, "availableReplicas": 1}}
    cands = candidates([], deployments + [worker], [], "test", canaries=canaries)

    class Host(App):
        def on_mount(self) -> None:
            self.push_screen(RolloutPicker(cands, "namespace test"))

    app = Host()
    async with app.run_test(size=(120, 20)) as pilot:
        await pilot.pause(0.2)
        opts = app.screen.query_one(OptionList)
        lines = [str(opts.get_option_at_index(i).prompt.plain) for i in range(opts.option_count)]
    assert len(lines) == 2, lines  # the Canary and the worker; neither podinfo Deployment on its own
    assert lines[0].startswith("… Canary     test/podinfo"), lines
    assert "canary · Progressing · weight 20% · ready 2/2 · podinfo + podinfo-primary" in lines[0], lines
    assert lines[1].startswith("✓ Deployment") and "test/worker" in lines[1]


@pytest.mark.parametrize("cluster", [("flagger-podinfo", 2.0)], indirect=True)
def test_status_all_namespaces_lists_the_canary(cluster, capsys):
    """`lookout status -A` against the demo cluster over HTTPS while Flagger steps the weight up."""
    deadline = time.monotonic() + 60
    while ((cluster.call(cluster.cluster.state.get, "canaries.flagger.app", "test", "podinfo") or {}).get(
            "status") or {}).get("phase") != "Progressing":
        assert time.monotonic() < deadline, "Flagger never started the analysis"
        time.sleep(0.2)
    p = argparse.ArgumentParser()
    add_status_arguments(p)
    assert run_status(p.parse_args(["--kubeconfig", cluster.kubeconfig_path, "-A", "--json"])) == 0
    rows = {(r["namespace"], r["name"]): r for r in json.loads(capsys.readouterr().out)["rollouts"]}
    row = rows[("test", "podinfo")]
    from tui.rollout.flagger import PHASE_HEALTH

    assert (row["kind"], row["strategy"]) == ("Canary", "canary"), row
    assert row["phase"] in ("Progressing", "Failed"), row  # the story moves on while status connects
    assert row["health"] == PHASE_HEALTH[row["phase"]]
    assert row["weight"] is not None and row["members"] == ["podinfo", "podinfo-primary"]
    assert not [k for k in rows if k[0] == "test" and k[1] != "podinfo"], sorted(rows)

    assert run_status(p.parse_args(["--kubeconfig", cluster.kubeconfig_path, "-A"])) == 0
    line = next(ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("test "))
    cols = line.split()
    assert cols[1:4] == ["podinfo", "Canary", "canary"] and cols[-3:] == ["podinfo", "+", "podinfo-primary"], line
    assert "%" in line, line  # the weight column
