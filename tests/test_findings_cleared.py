"""A finding that has stopped holding stays shown for `clear_after` (alert fatigue, seed 003), but it says so: the
strip, the `f` screen and `lookout status` must not state a cleared condition as if it held now."""

from __future__ import annotations

from textual.app import App, ComposeResult

from tui.rollout.findings import Finding, FindingTracker
from widgets.findings import finding_text
from widgets.status import FindingsStrip

SINGLE = Finding("single-endpoint", "info", "canary",
                 "Service checkout-canary has a single ready endpoint (10.244.156.86, checkout-mxk9zktzkb-7vd7d).")
ABORTED = Finding("rollout-aborted", "critical", None, "Rollout checkout was aborted.")


def tracked(now_gone: bool) -> list[Finding]:
    """What the session hands the views: both shown, the endpoint one cleared (argo-nginx: the canary's second and
    third pods came up; the strip kept saying 'a single ready endpoint' for 30 s beside 'canary 3/3 ready')."""
    tr = FindingTracker(raise_after=0, clear_after=30)
    tr.update([SINGLE, ABORTED], now=0)
    return tr.update([ABORTED] if now_gone else [SINGLE, ABORTED], now=5)


class StripApp(App):
    def compose(self) -> ComposeResult:
        yield FindingsStrip(id="strip")


async def test_strip_marks_a_finding_that_stopped_holding():
    app = StripApp()
    async with app.run_test(size=(160, 10)):
        strip = app.query_one(FindingsStrip)
        strip.set_findings(tracked(now_gone=True))
        lines = strip._last.plain.splitlines()
        single = next(ln for ln in lines if "single ready endpoint" in ln)
        aborted = next(ln for ln in lines if "was aborted" in ln)
        assert "cleared" in single and "cleared" not in aborted
        strip.set_findings(tracked(now_gone=False))
        assert "cleared" not in strip._last.plain


def test_findings_screen_text_marks_a_finding_that_stopped_holding():
    gone = {f.code: f for f in tracked(now_gone=True)}
    assert "cleared" in finding_text(gone["single-endpoint"]).plain.splitlines()[0]
    assert "cleared" not in finding_text(gone["rollout-aborted"]).plain
    held = {f.code: f for f in tracked(now_gone=False)}
    assert "cleared" not in finding_text(held["single-endpoint"]).plain


def test_status_text_marks_a_finding_that_stopped_holding():
    from tui.status import render_text

    def report(holding: bool) -> dict:
        return {"context": "lookout-demo", "namespace": "demo",
                "rollout": {"kind": "Rollout", "name": "checkout", "phase": "Paused", "outcome": "paused",
                            "message": None},
                "health": [{"cell": "endpoints", "word": "healthy"}], "metrics": {"source": "direct scrape",
                                                                                 "deltas": {}},
                "tracks": [], "verdict": {"decision": "promote", "reasons": []}, "exit_code": 0,
                "findings": [{"code": "single-endpoint", "severity": "info", "track": "canary", "text": SINGLE.summary,
                              "cell": "endpoints", "holding": holding, "evidence": []}]}
    gone, held = render_text(report(False)), render_text(report(True))
    assert "single-endpoint [canary] (cleared): Service checkout-canary" in gone
    assert "(cleared)" not in held


def test_aborted_reason_joins_the_controllers_sentence_without_a_stray_full_stop():
    """`lookout status` on flagger-podinfo after the rollback read `flagger: Canary analysis failed, Deployment scaled
    to zero.; the candidate's figures ...`: Flagger's message ends with a full stop, the reason joins with `;`."""
    from tui.assessment import Outcome, _aborted_reason

    r = _aborted_reason(Outcome("aborted", "flagger", "Canary analysis failed, Deployment scaled to zero."), None, ())
    assert ".;" not in r.text
    assert r.text == ("the rollout aborted; flagger: Canary analysis failed, Deployment scaled to zero; the candidate's "
                      "figures before it were not seen by this Lookout (it started after)")
