"""One label-selector parser: the app and the demo cluster accept, refuse and match alike, as kube-apiserver does.

The table follows k8s.io/apimachinery/pkg/labels (selector.go and its TestSetSelectorParser): `a>1` is a valid
integer comparison, `a,,b` and a trailing comma are errors, `a in ()` means `a in ("")`.
"""

from __future__ import annotations

import ssl

import httpx
import pytest

from tui.demo.cluster import start_demo_cluster
from tui.demo.state import BadRequest, LabelSelector
from tui.kube.selectors import SelectorError, parse_selector, selector_from_dict
from tui.rollout.target import BadSelector
from tui.rollout.target import parse_selector as app_parse_selector

VALID = [
    "", "x", "!x", "\rx", "a ", "x=a", "x==a", "x!=a", "x=", "x>1", "x<7", "x in (a,b)", "x notin (a,b)",
    "x in ()", "x notin ( )", "x in (abc,)", "x notin (, a)", "x notin (abc,,def),bar,z in (),w",
    "foo  in\t (abc)", "x notin\n (abc)", "x,y in (a)", "x=a,y!=b,z in (h,i,j)",
    "this-is-a-dns.domain.com/key-with-dash", "0.1.2.domain/99 notin (10.10.100.1, tick.tack.clock)",
    "a in (x,y,notin, z,in)", "in=notin", "app.kubernetes.io/name=checkout,!legacy",
]

INVALID = {
    "x,,y": "found ',', expected: identifier after ','",
    ",x,y": "found ',', expected: !, identifier, or 'end of string'",
    "a=b,": "found '', expected: identifier after ','",
    "a in (xyz),": "found '', expected: identifier after ','",
    "x nott in (y)": "found 'nott', expected: in, notin, =, ==, !=, gt, lt",
    "a in (xyz)b notin ()": "found 'b', expected: ',' or 'end of string'",
    "a in (xyz abc)": "found 'abc', expected: ',' or ')'",
    "a notin(": "found '', expected: ',', ')' or identifier",
    "a (": "found '(', expected: in, notin, =, ==, !=, gt, lt",
    "(": "found '(', expected: !, identifier, or 'end of string'",
    "!": "found '', expected: identifier",
    "!a=b": "found '=', expected: ',' or 'end of string'",
    "a=b=c": "found '=', expected: ',' or 'end of string'",
    "a>b": "for 'Gt', 'Lt' operators, the value must be an integer",
    "a<": "for 'Gt', 'Lt' operators, the value must be an integer",
    "a>-1": 'invalid label value "-1"',  # the value must also be a label value
    "x=a||y=b": 'invalid label value "a||y"',
    "x=-bad-": 'invalid label value "-bad-"',
    "-x=1": 'invalid label key "-x"',
    "/a": 'invalid label key "/a": prefix part must be non-empty',
    "a/b/c": 'invalid label key "a/b/c"',
    "Example.com/a": 'invalid label key "Example.com/a": prefix part must be a lowercase RFC 1123 subdomain',
    "x=" + "v" * 64: "must be no more than 63 characters",
}

MATCHES = [
    ("x>1", {"x": "2"}, True), ("x>1", {"x": "1"}, False), ("x>1", {"x": "v2"}, False), ("x>1", {}, False),
    ("x<1", {"x": "-3"}, True), ("x<1", {"x": "0"}, True),
    ("x in ()", {"x": ""}, True), ("x in ()", {"x": "a"}, False), ("x in ()", {}, False),
    ("x notin ()", {}, True), ("x notin ()", {"x": ""}, False), ("x notin (a)", {}, True),
    ("x!=a", {}, True), ("x!=a", {"x": "a"}, False), ("x==a", {"x": "a"}, True), ("x=", {"x": ""}, True),
    ("!x", {"x": ""}, False), ("x", {"x": ""}, True), ("x,y in (a)", {"x": "1", "y": "a"}, True),
    ("a in (in,notin)", {"a": "notin"}, True), ("", {"any": "thing"}, True),
]


@pytest.mark.parametrize("text", VALID)
def test_valid_selectors_are_accepted_by_the_app_and_the_demo_alike(text):
    app, demo = app_parse_selector(text), LabelSelector.parse(text)
    assert app.requirements == demo.requirements == parse_selector(text).requirements


@pytest.mark.parametrize("text,reason", INVALID.items())
def test_invalid_selectors_are_refused_by_the_app_and_the_demo_with_the_same_reason(text, reason):
    with pytest.raises(BadSelector) as app:
        app_parse_selector(text)
    with pytest.raises(BadRequest) as demo:
        LabelSelector.parse(text)
    assert demo.value.code == 400
    assert reason in str(demo.value)
    assert str(demo.value) in str(app.value)  # the app says which selector, then the server's reason
    assert isinstance(app.value, SelectorError) and isinstance(app.value, ValueError)


@pytest.mark.parametrize("text,labels,want", MATCHES)
def test_app_and_demo_match_alike(text, labels, want):
    assert app_parse_selector(text).matches(labels) is want
    assert LabelSelector.parse(text).matches(labels) is want


def test_label_selector_objects():
    sel = {"matchLabels": {"app": "web"},
           "matchExpressions": [{"key": "track", "operator": "In", "values": ["canary", "stable"]},
                                {"key": "legacy", "operator": "DoesNotExist"}]}
    s = selector_from_dict(sel)
    assert s.matches({"app": "web", "track": "canary"})
    assert not s.matches({"app": "web", "track": "canary", "legacy": "1"})
    assert not s.matches({"app": "web", "track": "preview"})
    assert s.requirements == parse_selector(str(s)).requirements  # the query string says the same
    assert selector_from_dict({}).matches({"x": "1"})
    with pytest.raises(SelectorError):
        selector_from_dict({"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]})


# ---- the demo cluster over HTTP ------------------------------------------------------------------------


@pytest.fixture
async def client(tmp_path):
    rc = await start_demo_cluster(simulate=False, kubeconfig_path=str(tmp_path / "kubeconfig"))
    rc.state.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "demo"}})
    for name, labels in (("a", {"app": "web", "rank": "1"}), ("b", {"app": "web", "rank": "5", "e": ""}),
                         ("c", {"app": "api"})):
        rc.state.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "demo",
                                                                          "labels": labels},
                         "spec": {"containers": [{"name": "app", "image": "app:1"}]}})
    ctx = ssl.create_default_context(cadata=rc.ca_pem.decode())
    try:
        async with httpx.AsyncClient(base_url=rc.url, verify=ctx, timeout=10,
                                     headers={"Authorization": f"Bearer {rc.token}"}) as c:
            yield c
    finally:
        await rc.stop()


async def test_demo_cluster_answers_400_for_what_the_app_refuses(client):
    for text, reason in INVALID.items():
        for params in ({"labelSelector": text}, {"labelSelector": text, "watch": "true"}):
            r = await client.get("/api/v1/namespaces/demo/pods", params=params)
            body = r.json()
            assert (r.status_code, body["kind"], body["reason"]) == (400, "Status", "BadRequest"), (text, params)
            assert reason in body["message"]
            with pytest.raises(BadSelector) as e:
                app_parse_selector(text)
            assert body["message"] in str(e.value)


async def test_demo_cluster_selects_what_the_app_selects(client):
    every = (await client.get("/api/v1/namespaces/demo/pods")).json()["items"]
    for text in ("rank>2", "rank<2", "e in ()", "app in (web),!e", "app notin (web)", "rank"):
        r = await client.get("/api/v1/namespaces/demo/pods", params={"labelSelector": text})
        assert r.status_code == 200, (text, r.text)
        got = sorted(o["metadata"]["name"] for o in r.json()["items"])
        sel = app_parse_selector(text)
        assert got == sorted(o["metadata"]["name"] for o in every if sel.matches(o["metadata"].get("labels")))
        assert got, text
