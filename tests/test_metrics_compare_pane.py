"""The canary-vs-stable pane in a pilot: figures side by side, verdict with reasons, PromQL on `p`, the bell."""

from __future__ import annotations

from rich.console import Console
from textual.app import App, ComposeResult

from tui.config import Thresholds
from tui.metrics.analysis import Analysis, Measure, MetricsSettings, PodInfo, Reading
from tui.rollout.findings import Finding
from widgets.compare import ComparePane, sparkline

HOSTILE = ("[/bold]", "[@click=app.quit]x[/]", "\x1b]8;;http://x\x1b\\", "\x1bc")


class PaneApp(App):
    def __init__(self) -> None:
        super().__init__()
        self.asked: list[tuple[str, str]] = []

    def compose(self) -> ComposeResult:
        yield ComparePane(id="compare")

    def on_compare_pane_show_prom_ql(self, event: ComparePane.ShowPromQL) -> None:
        self.asked.append((event.figure, event.promql))


def text_of(pane: ComparePane, width: int = 120) -> str:
    c = Console(width=width, record=True, color_system=None, file=open("/dev/null", "w"))
    c.print(pane.render())
    return c.export_text()


def states():
    clock = [1000.0]
    a = Analysis(Thresholds(), MetricsSettings(), clock=lambda: clock[0])
    pods = [PodInfo("checkout-canary-1", "canary", cpu_cores=0.13, memory_bytes=90e6),
            PodInfo("checkout-stable-1", "stable", cpu_cores=0.12, memory_bytes=86e6)]
    promql = {"latency_p99_s": "histogram_quantile(0.99, sum by (rollouts_pod_template_hash, le) (rate(x[1m])))",
              "error_ratio": "sum(rate(e[1m])) / sum(rate(t[1m]))"}
    out = []
    for i, (p99, err) in enumerate(((0.08, 0), (0.3, 2), (0.64, 12))):
        clock[0] += 5
        r = Reading(at=clock[0], source="direct scrape", promql=promql, measures={
            "canary": Measure(25.0, err / 1500, 0.03, 0.06, p99, 1500, err, 60),
            "stable": Measure(100.0, 0.0, 0.03, 0.06, 0.085, 6000, 0, 60)})
        out.append(a.update(r, pods))
    return out


async def test_pane_shows_tracks_verdict_and_promql():
    app = PaneApp()
    promote, hold, rollback = states()
    assert (promote.verdict.decision, hold.verdict.decision, rollback.verdict.decision) == ("promote", "hold", "rollback")
    async with app.run_test(size=(120, 40)) as pilot:
        pane = app.query_one(ComparePane)
        pane.state = promote
        await pilot.pause()
        txt = text_of(pane)
        assert "stable" in txt and "canary" in txt and "✔ PROMOTE" in txt and "success-criteria-met" in txt
        assert "25.0/s" in txt and "100/s" in txt and "-75 %" in txt
        pane.state = hold
        pane.state = rollback
        await pilot.pause()
        txt = text_of(pane)
        assert "✖ ROLLBACK" in txt and "latency-above-rollback" in txt and "640 ms > 500 ms" in txt
        # pick p99 latency (5th figure) and show its PromQL
        pane.focus()
        for _ in range(4):
            await pilot.press("j")
        await pilot.press("p")
        await pilot.pause()
        assert pane.selected_figure == "latency_p99_s"
        # p asks the app for the text view with the figure's PromQL, every time it is pressed
        assert app.asked[-1][0] == "latency_p99_s" and "histogram_quantile(0.99" in app.asked[-1][1]
        await pilot.press("k", "p")
        await pilot.pause()
        assert len(app.asked) == 2 and app.asked[-1][0] != "latency_p99_s"
        assert "PromQL" not in text_of(pane)  # the pane itself stays the figures
        # 80 columns: still one line per figure
        assert all(len(line) <= 80 for line in text_of(pane, 80).splitlines())


async def test_pane_renders_hostile_cluster_text_as_text():
    promote = states()[0]
    import dataclasses

    evil = " ".join(HOSTILE)
    f = Finding("no-traffic", "warning", "canary", f"pod {evil} serves nothing", ((f"Pod/{evil}", evil),))
    st = dataclasses.replace(promote, findings=(f,), source=f"prometheus {evil}", error=evil, stale=True)
    app = PaneApp()
    async with app.run_test(size=(120, 40)) as pilot:
        pane = app.query_one(ComparePane)
        pane.state = st
        await pilot.pause()
        txt = text_of(pane)
        assert "[/bold]" in txt and "[@click=app.quit]x[/]" in txt
        assert "\x1b" not in txt and "STALE" in txt
        assert app.is_running  # no markup action ran


def test_sparkline_blocks():
    assert sparkline([0, 1, 2, 3, 4, 5, 6, 7]) == "▁▂▃▄▅▆▇█"
    assert sparkline([]) == "" and sparkline([2, 2]) == "▄▄"
    assert len(sparkline(range(100))) == 16
