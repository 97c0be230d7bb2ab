"""A small PromQL evaluator over the demo's traffic model, for the demo's Argo analysis controller.

The demo is not a Prometheus: this answers the query shapes analysis templates use against the same counters each
pod's /metrics serves (tui/demo/traffic.py), with the labels a Prometheus scraping the pods would attach (the pod's
labels sanitised, `namespace`, `pod`, `instance`, `job`, as tui/demo/prometheus.py configures the real one):

- selectors of `http_requests_total`, `http_request_duration_seconds_bucket|_sum|_count`, with `=`, `!=`, `=~`, `!~`
- `rate`, `irate`, `increase` over a range; `sum`, `avg`, `min`, `max`, `count` with `by`/`without`
- `histogram_quantile`, `scalar`, `vector`, `abs`; `+ - * / %` between scalars and vectors (one-to-one matching,
  `on`/`ignoring`); number literals and parentheses

Anything else raises `QueryError` naming what the demo cannot evaluate; the controller records it as an Error
measurement with that reason, as Argo records a failed query.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Callable

from tui.demo.traffic import BUCKET_INDEX, BUCKETS, COUNT_INDEX, HANDLER, SUM_INDEX, request_series

JOB = "lookout-demo-pods"
METRICS = ("http_requests_total", "http_request_duration_seconds_bucket", "http_request_duration_seconds_sum",
           "http_request_duration_seconds_count")


class QueryError(Exception):
    """A query the demo cannot evaluate, in one sentence."""


@dataclass
class Series:
    """What a selector sees of one pod: its series' labels and, for each, a counter value or increase."""

    labels: dict[str, str]
    value: float


# (namespace, pod) -> (pod labels with namespace/pod/instance/job, counters or increase vector); window None = now
PodSource = Callable[[float | None], list[tuple[dict[str, str], list[float]]]]


# ============================================================================================ tokens
_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<num>(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?)
  | (?P<dur>\[\s*\d+(?:ms|[smhdwy])(?:\d+(?:ms|[smhdwy]))*\s*\])
  | (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
  | (?P<op>=~|!~|!=|==|<=|>=|[-+*/%^(){},=<>\[\]])
  | (?P<ident>[a-zA-Z_:][a-zA-Z0-9_:]*)
""", re.X)


def _tokens(q: str) -> list[tuple[str, str]]:
    out, i = [], 0
    while i < len(q):
        m = _TOKEN.match(q, i)
        if not m:
            raise QueryError(f"the demo cannot parse the query at {q[i:i + 20]!r}")
        i = m.end()
        if m.lastgroup != "ws":
            out.append((m.lastgroup, m.group()))
    return out


def parse_duration(text: str) -> float:
    total = 0.0
    for n, unit in re.findall(r"(\d+)(ms|[smhdwy])", text):
        total += int(n) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}[unit]
    return total


def _unquote(s: str) -> str:
    if s[0] == "`":
        return s[1:-1]
    body = s[1:-1]
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), body)


# ============================================================================================ parser
AGGREGATIONS = ("sum", "avg", "min", "max", "count")
FUNCTIONS = ("rate", "irate", "increase", "histogram_quantile", "scalar", "vector", "abs")


class _Parser:
    def __init__(self, q: str):
        self.t = _tokens(q)
        self.i = 0

    def peek(self, k=0):
        j = self.i + k
        return self.t[j] if j < len(self.t) else ("eof", "")

    def take(self, value: str | None = None):
        tok = self.peek()
        if value is not None and tok[1] != value:
            raise QueryError(f"the demo cannot parse the query: expected {value!r}, found {tok[1] or 'the end'!r}")
        self.i += 1
        return tok

    def parse(self):
        node = self.expr(0)
        if self.peek()[0] != "eof":
            raise QueryError(f"the demo cannot evaluate {self.peek()[1]!r} in the query")
        return node

    PREC = {"+": 1, "-": 1, "*": 2, "/": 2, "%": 2, "^": 3}

    def expr(self, min_prec: int):
        left = self.unary()
        while True:
            kind, op = self.peek()
            if kind != "op" or op not in self.PREC or self.PREC[op] < min_prec:
                if kind == "op" and op in ("==", "!=", "<", ">", "<=", ">="):
                    raise QueryError(f"the demo cannot evaluate comparison {op!r} in a query")
                if kind == "ident" and op in ("and", "or", "unless"):
                    raise QueryError(f"the demo cannot evaluate set operator {op!r} in a query")
                return left
            self.take()
            matching = None
            if self.peek()[1] in ("on", "ignoring"):
                how = self.take()[1]
                matching = (how, self.label_list())
            if self.peek()[1] in ("group_left", "group_right"):
                raise QueryError(f"the demo cannot evaluate {self.peek()[1]} in a query")
            right = self.expr(self.PREC[op] + (0 if op == "^" else 1))
            left = ("bin", op, left, right, matching)

    def unary(self):
        kind, v = self.peek()
        if v == "-":
            self.take()
            return ("bin", "*", ("num", -1.0), self.unary(), None)
        if v == "+":
            self.take()
            return self.unary()
        return self.primary()

    def label_list(self) -> list[str]:
        self.take("(")
        out = []
        while self.peek()[1] != ")":
            out.append(self.take()[1])
            if self.peek()[1] == ",":
                self.take()
        self.take(")")
        return out

    def primary(self):
        kind, v = self.peek()
        if kind == "num":
            self.take()
            return ("num", float(v))
        if v == "(":
            self.take()
            node = self.expr(0)
            self.take(")")
            return self.postfix(node)
        if kind == "ident" and v in ("NaN", "Inf") and self.peek(1)[1] != "{":
            self.take()
            return ("num", math.nan if v == "NaN" else math.inf)
        if kind == "ident" and v in AGGREGATIONS:
            self.take()
            grouping = None
            if self.peek()[1] in ("by", "without"):
                how = self.take()[1]
                grouping = (how, self.label_list())
            self.take("(")
            arg = self.expr(0)
            self.take(")")
            if grouping is None and self.peek()[1] in ("by", "without"):
                how = self.take()[1]
                grouping = (how, self.label_list())
            return ("agg", v, arg, grouping)
        if kind == "ident" and self.peek(1)[1] == "(":
            if v not in FUNCTIONS:
                raise QueryError(f"the demo cannot evaluate function {v}()")
            self.take()
            self.take("(")
            args = []
            while self.peek()[1] != ")":
                args.append(self.expr(0))
                if self.peek()[1] == ",":
                    self.take()
            self.take(")")
            return ("call", v, args)
        if kind == "ident" or v == "{":
            return self.postfix(self.selector())
        raise QueryError(f"the demo cannot parse the query at {v or 'the end'!r}")

    def selector(self):
        name = None
        if self.peek()[0] == "ident":
            name = self.take()[1]
        matchers = []
        if self.peek()[1] == "{":
            self.take()
            while self.peek()[1] != "}":
                label = self.take()[1]
                op = self.take()[1]
                if op not in ("=", "!=", "=~", "!~"):
                    raise QueryError(f"the demo cannot parse the matcher {label}{op}")
                kind, val = self.take()
                if kind != "str":
                    raise QueryError(f"the demo cannot parse the matcher {label}{op}{val}")
                matchers.append((label, op, _unquote(val)))
                if self.peek()[1] == ",":
                    self.take()
            self.take("}")
        for label, op, val in matchers:
            if label == "__name__" and op == "=":
                name = val
        if name is None:
            raise QueryError("the demo cannot evaluate a selector without a metric name")
        return ("sel", name, [m for m in matchers if m[0] != "__name__"], None)

    def postfix(self, node):
        kind, v = self.peek()
        if kind == "dur":
            self.take()
            if node[0] != "sel":
                raise QueryError("the demo cannot evaluate subqueries")
            node = ("sel", node[1], node[2], parse_duration(v))
        if self.peek()[1] == "offset" or self.peek()[1] == "@":
            raise QueryError(f"the demo cannot evaluate {self.peek()[1]!r} modifiers")
        return node


def parse(query: str):
    return _Parser(query).parse()


# ============================================================================================ evaluation
def _match(labels: dict[str, str], matchers) -> bool:
    for label, op, val in matchers:
        have = labels.get(label, "")
        if op == "=" and have != val:
            return False
        if op == "!=" and have == val:
            return False
        if op in ("=~", "!~"):
            try:
                hit = re.fullmatch(val, have) is not None
            except re.error as e:
                raise QueryError(f"invalid regular expression {val!r}: {e}") from None
            if hit != (op == "=~"):
                return False
    return True


def _series(name: str, pod_labels: dict[str, str], vec: list[float]) -> list[Series]:
    base = dict(pod_labels)
    if name == "http_requests_total":
        return [Series(base | {"__name__": name, "handler": HANDLER, "method": m, "code": c}, vec[i])
                for i, m, c in request_series()]
    if name == "http_request_duration_seconds_bucket":
        out = [Series(base | {"__name__": name, "handler": HANDLER, "le": repr(float(b))}, vec[BUCKET_INDEX + j])
               for j, b in enumerate(BUCKETS)]
        out.append(Series(base | {"__name__": name, "handler": HANDLER, "le": "+Inf"}, vec[COUNT_INDEX]))
        return out
    if name == "http_request_duration_seconds_sum":
        return [Series(base | {"__name__": name, "handler": HANDLER}, vec[SUM_INDEX])]
    if name == "http_request_duration_seconds_count":
        return [Series(base | {"__name__": name, "handler": HANDLER}, vec[COUNT_INDEX])]
    raise QueryError(f'the demo\'s traffic model has no metric "{name}" (it serves {", ".join(METRICS)})')


def _key(labels: dict[str, str], drop_name: bool = True) -> tuple:
    return tuple(sorted((k, v) for k, v in labels.items() if not (drop_name and k == "__name__")))


def evaluate(query: str, pods: PodSource):
    """The query's value: a float (scalar) or a list of (labels, value) (instant vector), sorted by labels."""
    node = parse(query)
    out = _eval(node, pods)
    if isinstance(out, tuple) and out[0] == "range":
        raise QueryError("the query is a range vector: wrap it in rate(), irate() or increase()")
    if isinstance(out, list):
        return sorted(out, key=lambda s: _key(s[0]))
    return out


def _eval(node, pods: PodSource):
    kind = node[0]
    if kind == "num":
        return node[1]
    if kind == "sel":
        _, name, matchers, window = node
        out = []
        for labels, vec in pods(window):
            for s in _series(name, labels, vec):
                if _match(s.labels, matchers):
                    out.append((s.labels, s.value))
        return ("range", out, window) if window is not None else out
    if kind == "call":
        _, fn, args = node
        if fn in ("rate", "irate", "increase"):
            if len(args) != 1:
                raise QueryError(f"{fn}() takes one range vector")
            rv = _eval(args[0], pods)
            if not (isinstance(rv, tuple) and rv[0] == "range"):
                raise QueryError(f"{fn}() needs a range vector such as metric[1m]")
            _, series, window = rv
            div = 1.0 if fn == "increase" else max(window, 1e-9)
            return [({k: v for k, v in lb.items() if k != "__name__"}, val / div) for lb, val in series]
        if fn == "histogram_quantile":
            if len(args) != 2:
                raise QueryError("histogram_quantile() takes a quantile and a vector")
            q = _eval(args[0], pods)
            v = _eval(args[1], pods)
            if not isinstance(q, float) or not isinstance(v, list):
                raise QueryError("histogram_quantile() takes a scalar and an instant vector")
            groups: dict[tuple, list[tuple[float, float]]] = {}
            keep: dict[tuple, dict] = {}
            for lb, val in v:
                if "le" not in lb:
                    continue
                rest = {k: x for k, x in lb.items() if k not in ("le", "__name__")}
                k = _key(rest)
                keep[k] = rest
                le = lb["le"]
                groups.setdefault(k, []).append((math.inf if le == "+Inf" else float(le), val))
            from tui.demo.traffic import bucket_quantile  # noqa: PLC0415
            return [(keep[k], bucket_quantile(q, b)) for k, b in groups.items()]
        if fn == "scalar":
            v = _eval(args[0], pods)
            if isinstance(v, float):
                return v
            return v[0][1] if len(v) == 1 else math.nan
        if fn == "vector":
            v = _eval(args[0], pods)
            if not isinstance(v, float):
                raise QueryError("vector() takes a scalar")
            return [({}, v)]
        if fn == "abs":
            v = _eval(args[0], pods)
            return abs(v) if isinstance(v, float) else [(lb, abs(x)) for lb, x in v]
    if kind == "agg":
        _, op, arg, grouping = node
        v = _eval(arg, pods)
        if not isinstance(v, list):
            raise QueryError(f"{op}() needs an instant vector")
        groups: dict[tuple, list[float]] = {}
        keep = {}
        for lb, val in v:
            if grouping is None:
                g = {}
            elif grouping[0] == "by":
                g = {k: lb[k] for k in grouping[1] if k in lb}
            else:
                g = {k: x for k, x in lb.items() if k not in grouping[1] and k != "__name__"}
            k = _key(g)
            keep[k] = g
            groups.setdefault(k, []).append(val)
        fn = {"sum": sum, "avg": lambda xs: sum(xs) / len(xs), "min": min, "max": max,
              "count": lambda xs: float(len(xs))}[op]
        return [(keep[k], float(fn(xs))) for k, xs in groups.items()]
    if kind == "bin":
        _, op, a, b, matching = node
        x, y = _eval(a, pods), _eval(b, pods)
        if isinstance(x, tuple) or isinstance(y, tuple):
            raise QueryError("arithmetic on a range vector: wrap it in rate(), irate() or increase()")
        if isinstance(x, float) and isinstance(y, float):
            return _arith(op, x, y)
        if isinstance(x, float):
            return [(lb, _arith(op, x, v)) for lb, v in y]
        if isinstance(y, float):
            return [(lb, _arith(op, v, y)) for lb, v in x]

        def mk(lb):
            lb = {k: v for k, v in lb.items() if k != "__name__"}
            if matching is None:
                return _key(lb)
            how, names = matching
            if how == "on":
                return _key({k: lb.get(k, "") for k in names})
            return _key({k: v for k, v in lb.items() if k not in names})
        right = {}
        for lb, v in y:
            k = mk(lb)
            if k in right:
                raise QueryError("many-to-many matching in a binary operation: aggregate one side first")
            right[k] = v
        out = []
        for lb, v in x:
            k = mk(lb)
            if k in right:
                out.append(({kk: vv for kk, vv in lb.items() if kk != "__name__"}, _arith(op, v, right[k])))
        return out
    raise QueryError("the demo cannot evaluate this query")


def _arith(op: str, a: float, b: float) -> float:
    try:
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        if op == "/":
            if b == 0:
                return math.nan if a == 0 or math.isnan(a) else math.copysign(math.inf, a)
            return a / b
        if op == "%":
            return math.fmod(a, b) if b != 0 else math.nan
        if op == "^":
            return a ** b
    except (OverflowError, ValueError):
        return math.nan
    raise QueryError(f"the demo cannot evaluate operator {op!r}")


def format_value(v: float) -> str:
    """A sample value as Prometheus' model.SampleValue.String() writes it (strconv.FormatFloat(v, 'f', -1, 64))."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    r = repr(float(v))
    if "e" in r or "E" in r:
        from decimal import Decimal  # noqa: PLC0415
        r = format(Decimal(r), "f")
    if r.endswith(".0"):
        r = r[:-2]
    return r
