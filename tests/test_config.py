"""Settings: defaults from the seeds, and errors that name the file, the line and what is expected."""

from __future__ import annotations

import pytest

from tui.config import EXAMPLE, ConfigError, Settings, default_config_path, load_config, locate
from tui.rollout.tracks import TrackConventions


def write(tmp_path, text, name="config.toml"):
    p = tmp_path / name
    p.write_text(text)
    return p


def error_of(path) -> str:
    with pytest.raises(ConfigError) as e:
        load_config(path)
    return str(e.value)


def test_defaults_come_from_the_seeds():
    s = Settings()
    assert (s.thresholds.error_rate_ok_percent, s.thresholds.p99_ok_ms) == (0.1, 100.0)
    assert (s.thresholds.error_rate_rollback_percent, s.thresholds.error_rate_rollback_for, s.thresholds.p99_rollback_ms) == (5.0, 300.0, 500.0)
    assert (s.thresholds.cpu_warning_percent, s.thresholds.memory_warning_percent, s.thresholds.memory_leak_factor) == (80.0, 80.0, 1.5)
    assert (s.findings.raise_after, s.findings.clear_after) == (5.0, 30.0)
    assert s.tracks == TrackConventions()


def test_missing_default_file_is_defaults(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert default_config_path() == tmp_path / "lookout" / "config.toml"
    assert load_config() == Settings()


def test_default_file_is_read_when_present(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    (tmp_path / "lookout").mkdir()
    (tmp_path / "lookout" / "config.toml").write_text("[defaults]\nnamespace = \"shop\"\n")
    assert load_config().defaults.namespace == "shop"


def test_missing_explicit_file_is_an_error(tmp_path):
    msg = error_of(tmp_path / "nope.toml")
    assert msg.startswith(str(tmp_path / "nope.toml")) and "no such file" in msg


def test_example_loads_and_matches_defaults(tmp_path):
    s = load_config(write(tmp_path, EXAMPLE))
    assert s.tracks == TrackConventions()
    assert s.thresholds == Settings().thresholds and s.findings == Settings().findings
    assert s.defaults.namespace == "shop" and s.path == str(tmp_path / "config.toml")


def test_values_are_read(tmp_path):
    s = load_config(write(tmp_path, """
[findings]
raise_after = 2
clear_after = 10.5
[thresholds]
p99_rollback_ms = 750
[tracks]
argo_hash_label = "rollouts-pod-template-hash"
[tracks.labels."example.com/track"]
prod = "stable"
next = "canary"
"""))
    assert (s.findings.raise_after, s.findings.clear_after, s.thresholds.p99_rollback_ms) == (2.0, 10.5, 750.0)
    assert s.tracks.labels == (("example.com/track", (("prod", "stable"), ("next", "canary"))),)


def test_unknown_key_names_file_line_and_expected(tmp_path):
    p = write(tmp_path, "# settings\n[defaults]\nnamespace = \"shop\"\n\n[findings]\nraise_after = 5\nclear_aftr = 3\n")
    msg = error_of(p)
    assert msg.startswith(f"{p}:7: ")
    assert "unknown key 'clear_aftr' in [findings]" in msg and "clear_after" in msg


def test_unknown_section(tmp_path):
    p = write(tmp_path, "[defaults]\nrefresh_ms = 40\n\n[promethues]\nurl = \"http://prom:9090\"\n")
    msg = error_of(p)
    assert msg.startswith(f"{p}:4: ") and "unknown section [promethues]" in msg and "[prometheus]" in msg


def test_bad_value_type_and_range(tmp_path):
    p = write(tmp_path, "[thresholds]\ncpu_warning_percent = 80\np99_ok_ms = \"fast\"\n")
    msg = error_of(p)
    assert msg.startswith(f"{p}:3: ") and "expected a number of milliseconds" in msg and "'fast'" in msg
    p = write(tmp_path, "[thresholds]\ncpu_warning_percent = 180\n")
    assert error_of(p).startswith(f"{p}:2: ") and "<= 100" in error_of(p)
    p = write(tmp_path, "[defaults]\nevent_buffer = 1.5\n")
    assert "whole number" in error_of(p)
    p = write(tmp_path, "[findings]\nraise_after = true\n")
    assert "got true" in error_of(p)


def test_screen_defaults_are_read_and_bounded(tmp_path):
    p = write(tmp_path, "[defaults]\nrefresh_ms = 50\nevent_buffer = 250\nlog_buffer_lines = 2000\n")
    d = load_config(str(p)).defaults
    assert (d.refresh_ms, d.event_buffer, d.log_buffer_lines, d.coalesce_seconds) == (50, 250, 2000, 0.05)
    assert Settings().defaults.coalesce_seconds == 0.04
    for key, bad, says in (("refresh_ms", 5, ">= 10 and <= 1000"), ("refresh_ms", 5000, "<= 1000"),
                           ("event_buffer", 10_000_000, "<= 100000"), ("log_buffer_lines", 0, ">= 100"),
                           ("log_buffer_lines", "many", "whole number of lines")):
        p = write(tmp_path, f"[defaults]\n{key} = {bad!r}\n".replace("'", '"'))
        msg = error_of(p)
        assert msg.startswith(f"{p}:2: ") and f"defaults.{key}" in msg and says in msg, msg


def test_dotted_and_inline_keys_are_located(tmp_path):
    p = write(tmp_path, "title = 1\n")
    assert error_of(p).startswith(f"{p}:1: ")
    p = write(tmp_path, "\n\nfindings.raise_after = -1\n")
    assert error_of(p).startswith(f"{p}:3: ")
    p = write(tmp_path, "[defaults]\n\nnamespace = \"Not_A_Namespace\"\n")
    msg = error_of(p)
    assert msg.startswith(f"{p}:3: ") and "namespace name" in msg


def test_bad_track_name_in_label_convention(tmp_path):
    p = write(tmp_path, "[tracks.labels.deployment]\ncanary = \"canary\"\nprod = \"production\"\n")
    msg = error_of(p)
    assert msg.startswith(f"{p}:3: ") and "expected a track: stable, primary, canary" in msg


def test_inconsistent_thresholds(tmp_path):
    p = write(tmp_path, "[thresholds]\np99_ok_ms = 200\np99_rollback_ms = 150\n")
    assert error_of(p).startswith(f"{p}:3: ")


def test_syntax_error_has_line_and_column(tmp_path):
    p = write(tmp_path, "[defaults]\nnamespace = \n")
    msg = error_of(p)
    assert msg.startswith(f"{p}:2:") and "invalid TOML" in msg


def test_not_utf8(tmp_path):
    p = tmp_path / "bad.toml"
    p.write_bytes(b"[defaults]\nnamespace = \"\xff\"\n")
    assert error_of(p).startswith(f"{p}:2: ")


def test_locate_skips_multiline_strings_and_comments():
    text = '[a]\nx = """\n[b]\ny = 1\n"""\n# z = 1\n[b]\ny = 2\n'
    assert locate(text, ("b", "y")) == 8
    assert locate(text, ("a", "x")) == 2
    assert locate(text, ("b", "nope")) == 7


# ---- [metrics.rollouts.<name>]: per-rollout overrides ---------------------------------------------

ROLLOUTS = """\
[metrics]
convention = "plain"
min_requests = 100
[metrics.queries]
request_rate_rps = 'sum by ({group}) (rate(my_requests_total{{{sel}}}[{window}]))'

[metrics.rollouts.checkout]
convention = "istio"
min_requests = 500

[metrics.rollouts."demo/checkout"]
status_label = "status"
[metrics.rollouts."demo/checkout".queries]
error_ratio = 'sum by ({group}) (rate(e_total{{{sel}}}[{window}])) / sum by ({group}) (rate(r_total{{{sel}}}[{window}]))'

[metrics.rollouts.payments]
window = 120
[metrics.rollouts.payments.queries]
latency_p99_s = 'max by ({group}) (p99{{{sel}}})'
"""


def test_metrics_rollouts_are_read(tmp_path):
    m = load_config(write(tmp_path, ROLLOUTS)).metrics
    assert m.convention == "plain" and m.min_requests == 100
    assert m.rollouts["checkout"] == {"convention": "istio", "min_requests": 500}
    assert m.rollouts["demo/checkout"]["status_label"] == "status"
    assert set(m.rollouts["demo/checkout"]["queries"]) == {"error_ratio"}
    assert m.rollouts["payments"] == {"window": 120.0, "queries": {"latency_p99_s": "max by ({group}) (p99{{{sel}}})"}}


def test_metrics_settings_picks_the_rollouts_override(tmp_path):
    from tui.metrics.analysis import MetricsSettings
    from tui.metrics.monitor import metrics_settings
    from tui.rollout.target import Target

    s = load_config(write(tmp_path, ROLLOUTS))
    base = metrics_settings(s)
    assert base.convention == "plain" and base.rollouts == {}
    # "demo/checkout" wins over "checkout": only its keys apply, on top of [metrics]
    m = metrics_settings(s, Target("Rollout", "checkout", "demo", "app=checkout"))
    assert (m.convention, m.min_requests, m.status_label) == ("plain", 100, "status")
    assert set(m.queries) == {"request_rate_rps", "error_ratio"}  # merged figure by figure
    # in another namespace the bare name matches; its convention change drops [metrics.queries]
    m = metrics_settings(s, Target("Rollout", "checkout", "prod", "app=checkout"))
    assert (m.convention, m.min_requests, m.status_label, dict(m.queries)) == ("istio", 500, None, {})
    # another name: the base settings
    other = metrics_settings(s, Target("Rollout", "cart", "demo", "app=cart"))
    assert other == base and other.convention == "plain"
    # a workload selected by app=payments matches by its app label value; a label target by its value
    m = metrics_settings(s, Target("Deployment", "payments-v2", "demo", "app=payments,tier=web"))
    assert m.window == 120.0 and set(m.queries) == {"request_rate_rps", "latency_p99_s"}
    assert metrics_settings(s, Target("Label", "payments", "demo", "app=payments")).window == 120.0
    # no [metrics] at all
    assert metrics_settings(Settings(), Target("Rollout", "checkout", "demo", "app=checkout")) == MetricsSettings()


def test_unknown_key_in_a_rollout_table_names_file_and_line(tmp_path):
    p = write(tmp_path, '[metrics]\nconvention = "plain"\n\n[metrics.rollouts."demo/checkout"]\n'
                        'convention = "istio"\nmin_request = 5\n')
    msg = error_of(p)
    assert msg.startswith(f"{p}:6: "), msg
    assert 'metrics.rollouts."demo/checkout".min_request' in msg
    assert "unknown key 'min_request' in [metrics.rollouts.\"demo/checkout\"]" in msg and "min_requests" in msg
    assert "rollouts" not in msg.split("expected", 1)[1]  # no nesting


def test_bad_value_in_a_rollout_table_names_file_and_line(tmp_path):
    p = write(tmp_path, '[metrics.rollouts.checkout]\nwindow = 60\nconvention = "envoy"\n')
    msg = error_of(p)
    assert msg.startswith(f"{p}:3: metrics.rollouts.checkout.convention: expected "), msg
    assert "istio" in msg and "'envoy'" in msg
    p = write(tmp_path, "[metrics.rollouts.checkout.queries]\nerror_rate = 'x'\n")
    msg = error_of(p)
    assert msg.startswith(f"{p}:2: metrics.rollouts.checkout.queries.error_rate: unknown figure"), msg
    p = write(tmp_path, "[metrics.rollouts]\ncheckout = 5\n")
    assert error_of(p).startswith(f"{p}:2: metrics.rollouts.checkout: expected a table"), error_of(p)
    p = write(tmp_path, '[metrics.rollouts."a/b/c"]\nwindow = 60\n')
    msg = error_of(p)
    assert msg.startswith(f'{p}:1: metrics.rollouts."a/b/c": expected a rollout name'), msg


def test_example_rollout_overrides_load_when_uncommented(tmp_path):
    lines = EXAMPLE.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith("# [metrics.rollouts."))
    end = next(i for i, ln in enumerate(lines) if i > start and ln.startswith("[prometheus]"))
    text = "\n".join(lines[:start] + [ln[2:] for ln in lines[start:end] if ln.startswith("# ")] + lines[end:])
    m = load_config(write(tmp_path, text)).metrics
    assert set(m.rollouts) == {"checkout", "shop/payments"} and "latency_p99_s" in m.rollouts["shop/payments"]["queries"]


def test_docs_config_md_shows_the_example():
    import re
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[1] / "docs" / "config.md").read_text()
    assert re.search(r"```toml\n(.*?)```", doc, re.S).group(1) == EXAMPLE
