"""Prometheus answers that are not what the HTTP API promises become one `query-error` line, never a traceback.

A tiny HTTP server on 127.0.0.1 (http.server in a thread) plays Prometheus and answers every query with the body
a test chose; the real PrometheusSource (prometheus-api-client over requests) reads it.
"""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tui.metrics.analysis import MetricsSettings
from tui.metrics.prometheus import NOT_JSON, PrometheusSource, judge_answer
from tui.metrics.queries import TrackGrouping
from tui.metrics.scrape import ReadContext

GOOD_VECTOR = {"status": "success", "data": {"resultType": "vector", "result": [
    {"metric": {"track": "stable"}, "value": [1714564800.0, "12.5"]},
    {"metric": {"track": "canary"}, "value": [1714564800.0, "3"]}]}}
GOOD_MATRIX = {"status": "success", "data": {"resultType": "matrix", "result": [
    {"metric": {"track": "stable"}, "values": [[1714564790.0, "12"], [1714564800.0, "12.5"]]}]}}


def _json(obj) -> tuple[int, str, bytes]:
    return 200, "application/json", json.dumps(obj).encode()


# name -> (HTTP status, Content-Type, body), and the one line the finding must carry
BAD = {
    "truncated": ((200, "application/json", json.dumps(GOOD_VECTOR).encode()[:40]), "answer is not JSON"),
    "html": ((200, "text/html; charset=utf-8", b"<html><body><h1>Sign in</h1></body></html>"),
             "answer is not JSON (text/html)"),
    "html-502": ((502, "text/html", b"<html><title>502 Bad Gateway</title></html>"),
                 "HTTP 502, and the answer is not JSON (text/html)"),
    "empty": ((200, "application/json", b""), "answer is not JSON"),
    "array": (_json([1, 2]), "answer is a JSON array, not an object"),
    "no-status": (_json({"data": GOOD_VECTOR["data"]}), "answer has no status"),
    "odd-status": (_json({"status": "pending", "data": GOOD_VECTOR["data"]}), 'status is "pending", not "success"'),
    "data-null": (_json({"status": "success", "data": None}), "data is null"),
    "data-string": (_json({"status": "success", "data": "x"}), "data is a JSON string, not an object"),
    "result-notalist": (_json({"status": "success", "data": {"resultType": "vector", "result": "notalist"}}),
                        "result is not a list"),
    "result-missing": (_json({"status": "success", "data": {"resultType": "vector"}}), "result is missing"),
    "scalar": (_json({"status": "success", "data": {"resultType": "scalar", "result": [1714564800, "1"]}}),
               'result type is "scalar", not vector'),
    "series-string": (_json({"status": "success", "data": {"resultType": "vector", "result": ["a"]}}),
                      "a series is not an object"),
    "series-no-value": (_json({"status": "success", "data": {"resultType": "vector",
                                                             "result": [{"metric": {"track": "stable"}}]}}),
                        "a series has no value"),
    "series-bad-value": (_json({"status": "success", "data": {"resultType": "vector", "result": [
        {"metric": {"track": "stable"}, "value": ["x", 1]}]}}), 'a series\' value is not [time, "number"]'),
    "metric-list": (_json({"status": "success", "data": {"resultType": "vector", "result": [
        {"metric": ["track"], "value": [1, "1"]}]}}), "a series' metric is not an object"),
    "error-no-message": ((400, "application/json", json.dumps({"status": "error"}).encode()),
                         "HTTP 400, and the answer says status error without an error message"),
}


class _Prometheus:
    """Answers /api/v1/query with `self.answer`, /api/v1/query_range with `self.range_answer`."""

    def __init__(self):
        self.answer = _json(GOOD_VECTOR)
        self.range_answer = _json(GOOD_MATRIX)
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as Prometheus does

            def do_GET(self):  # noqa: N802 - http.server's name
                status, ctype, body = owner.range_answer if "query_range" in self.path else owner.answer
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                # head and body in one write: two small writes wait out the client's delayed ACK (~40 ms each)
                self._headers_buffer.append(b"\r\n" + body)
                self.flush_headers()

            do_POST = do_GET  # noqa: N815

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def prom():
    p = _Prometheus()
    yield p
    p.close()


def _pod(name, track):
    return {"metadata": {"name": name, "namespace": "shop", "labels": {"track": track}},
            "status": {"phase": "Running"}}


def _ctx():
    pods = [_pod("web-s", "stable"), _pod("web-c", "canary")]
    return ReadContext(namespace="shop", pods=pods, track_of=lambda p: p["metadata"]["labels"]["track"],
                       grouping=TrackGrouping("track", {"stable": "stable", "canary": "canary"}, "track"))


async def _read(prom):
    src = PrometheusSource(prom.url, settings=MetricsSettings(timeout=5.0), clock=lambda: 1714564800.0)
    try:
        return await src.read(_ctx())
    finally:
        await src.aclose()


async def test_a_good_answer_gives_figures(prom):
    r = await _read(prom)
    assert r.ok and not [f for f in r.findings if f.code == "query-error"]
    assert r.measures["stable"].request_rate_rps == 12.5 and r.measures["canary"].request_rate_rps == 3.0
    assert r.ranges[("stable", "request_rate_rps")] == [(1714564790.0, 12.0), (1714564800.0, 12.5)]


@pytest.mark.parametrize("name", BAD)
async def test_a_bad_answer_is_one_query_error_line(prom, name, caplog):
    answer, line = BAD[name]
    prom.answer = prom.range_answer = answer
    with caplog.at_level(logging.DEBUG):
        r = await _read(prom)
    errors = [f for f in r.findings if f.code == "query-error"]
    assert errors, r.findings
    for f in errors:
        ev = dict(f.evidence)
        assert ev["error"] == line, (f.summary, ev)
        assert "\n" not in f.summary and f.summary.endswith(line)
        assert "object has no attribute" not in f.summary and "Traceback" not in f.summary
    assert {dict(f.evidence)["figure"] for f in errors} >= {"request_rate_rps", "error_ratio", "up"}
    assert "Traceback" not in caplog.text and not any(rec.exc_info for rec in caplog.records)
    assert not r.measures  # nothing is made up from an unreadable answer


async def test_a_rejected_query_keeps_prometheus_words(prom):
    prom.answer = (400, "application/json", json.dumps({"status": "error", "errorType": "bad_data",
                                                        "error": "1:5: parse error: unexpected \"}\""}).encode())
    r = await _read(prom)
    f = next(f for f in r.findings if f.code == "query-error")
    assert f.summary.startswith("Prometheus rejected the ") and dict(f.evidence)["error"].endswith('unexpected "}"')


async def test_an_html_answer_shows_how_it_starts(prom):
    prom.answer = BAD["html-502"][0]
    r = await _read(prom)
    f = next(f for f in r.findings if f.code == "query-error")
    assert dict(f.evidence)["answer starts"].startswith("<html><title>502 Bad Gateway")


async def test_only_the_history_answer_is_bad(prom):
    prom.range_answer = BAD["result-notalist"][0]
    r = await _read(prom)
    figs = {dict(f.evidence)["figure"] for f in r.findings if f.code == "query-error"}
    assert figs == {"request_rate_rps history", "error_ratio history", "latency_p99_s history"}
    assert r.measures["stable"].request_rate_rps == 12.5 and not r.ranges


def test_judge_answer_table():
    assert judge_answer(200, NOT_JSON, "vector").error == "answer is not JSON"
    assert judge_answer(None, None, "vector").error == "no answer was read"
    ok = judge_answer(200, {"status": "success", "warnings": ["partial"], "data": {"resultType": "vector", "result": [
        {"metric": {"a": "1"}, "value": [1, "NaN"]}, {"value": [2, "+Inf"]}]}}, "vector")
    assert ok.error is None and ok.warnings == ("partial",) and ok.samples[1] == ({}, float("inf"))
    assert judge_answer(200, GOOD_MATRIX, "vector").error == 'result type is "matrix", not vector'
    bad_pts = {"status": "success", "data": {"resultType": "matrix", "result": [{"metric": {}, "values": [[1]]}]}}
    assert judge_answer(200, bad_pts, "matrix").error == 'a series\' values are not [time, "number"] pairs'
