"""Label selectors as kube-apiserver parses and matches them: the one parser for the app and the demo cluster.

The grammar, the error wording and the matching follow k8s.io/apimachinery/pkg/labels/selector.go:
`a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x,y)`, `a`, `!a`, `a>1`, `a<1` (integers), separated by commas.
Quirks kept on purpose, because the server has them: `a in ()` means `a in ("")`, `a=` means the empty value,
and `a,,b` or a trailing comma is an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping


class SelectorError(ValueError):
    """A label selector kube-apiserver would refuse; the message says why, in the server's words."""


# (key, op, values); op is one of = != in notin exists !exists > <  ("==" is stored as "=")
Requirement = tuple[str, str, frozenset[str]]

_INT = re.compile(r"[+-]?[0-9]+\Z")
_INT64 = (-(2 ** 63), 2 ** 63 - 1)


def _int64(s: str) -> int | None:
    """strconv.ParseInt(s, 10, 64), or None."""
    if not _INT.match(s):
        return None
    v = int(s)
    return v if _INT64[0] <= v <= _INT64[1] else None


@dataclass(frozen=True)
class Selector:
    """A parsed label selector; `matches(labels)` is what the API server would answer. No requirement: everything."""

    requirements: tuple[Requirement, ...] = ()
    text: str = ""

    @property
    def empty(self) -> bool:
        return not self.requirements

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        labels = labels or {}
        for key, op, values in self.requirements:
            v = labels.get(key)
            if op == "=" or op == "in":
                if v is None or v not in values:
                    return False
            elif op == "!=" or op == "notin":
                if v is not None and v in values:
                    return False
            elif op == "exists":
                if v is None:
                    return False
            elif op == "!exists":
                if v is not None:
                    return False
            else:  # > and <: both sides integers, else no match
                have = _int64(v) if isinstance(v, str) else None
                want = _int64(next(iter(values)))
                if have is None or want is None or not (have > want if op == ">" else have < want):
                    return False
        return True

    def __str__(self) -> str:
        return self.text


# ---- lexer -----------------------------------------------------------------------------------------

_END, _ID, _IN, _NOTIN, _OPEN, _CLOSE, _COMMA, _NOT, _EQ, _EQEQ, _NEQ, _GT, _LT = range(13)
_SYMBOLS = {"!=": _NEQ, "==": _EQEQ, "=": _EQ, "!": _NOT, "(": _OPEN, ")": _CLOSE, ",": _COMMA, ">": _GT, "<": _LT}
_KEYWORDS = {"in": _IN, "notin": _NOTIN}
# Go's lexer: whitespace is exactly these four; an identifier runs to whitespace or a special symbol;
# special symbols are read greedily (`!=` and `==` before `!` and `=`).
_TOKEN = re.compile(r"[ \t\r\n]*(?:(!=|==|[=!(),><])|([^ \t\r\n=!(),><]+))")
_BINARY_OPERATORS = "in, notin, =, ==, !=, gt, lt"


def _lex(text: str) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    pos = 0
    while True:
        m = _TOKEN.match(text, pos)
        if m is None:  # only whitespace is left
            out.append((_END, ""))
            return out
        sym, ident = m.group(1), m.group(2)
        out.append((_SYMBOLS[sym], sym) if sym else (_KEYWORDS.get(ident, _ID), ident))
        pos = m.end()


# ---- validation (k8s.io/apimachinery/pkg/util/validation) -------------------------------------------

_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]\Z")
_DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\Z")
_NAME_RULE = ("must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
              "alphanumeric character")


def check_label_key(key: str) -> None:
    """IsQualifiedName: an optional DNS-subdomain prefix and '/', then a name of at most 63 characters."""
    parts = key.split("/")
    if len(parts) > 2:
        raise SelectorError(f'invalid label key "{key}": a qualified name {_NAME_RULE}, with an optional '
                            "DNS subdomain prefix and '/' (e.g. 'example.com/MyName')")
    name = parts[-1]
    if len(parts) == 2:
        prefix = parts[0]
        if not prefix:
            raise SelectorError(f'invalid label key "{key}": prefix part must be non-empty')
        if len(prefix) > 253 or not _DNS1123_SUBDOMAIN.match(prefix):
            raise SelectorError(f'invalid label key "{key}": prefix part must be a lowercase RFC 1123 subdomain '
                                "of at most 253 characters (e.g. 'example.com')")
    if not name:
        raise SelectorError(f'invalid label key "{key}": name part must be non-empty')
    if len(name) > 63:
        raise SelectorError(f'invalid label key "{key}": name part must be no more than 63 characters')
    if not _NAME.match(name):
        raise SelectorError(f'invalid label key "{key}": name part {_NAME_RULE}')


def check_label_value(value: str) -> None:
    if len(value) > 63:
        raise SelectorError(f'invalid label value "{value}": must be no more than 63 characters')
    if value and not _NAME.match(value):
        raise SelectorError(f'invalid label value "{value}": a valid label must be an empty string or {_NAME_RULE}')


# ---- parser ----------------------------------------------------------------------------------------

class _Parser:
    """Recursive descent over the token list, as labels.Parser does; `in`/`notin` are identifiers where a
    value is expected (`a in (in)`), keywords only where an operator is."""

    def __init__(self, text: str):
        self.toks = _lex(text)
        self.pos = 0

    def peek(self, values: bool = True) -> tuple[int, str]:
        tok, lit = self.toks[self.pos]
        return (_ID if values and tok in (_IN, _NOTIN) else tok), lit

    def take(self, values: bool = True) -> tuple[int, str]:
        t = self.peek(values)
        self.pos = min(self.pos + 1, len(self.toks) - 1)
        return t

    def selector(self) -> list[Requirement]:
        reqs: list[Requirement] = []
        while True:
            tok, lit = self.peek()
            if tok == _END:
                return reqs
            if tok not in (_ID, _NOT):
                raise SelectorError(f"found '{lit}', expected: !, identifier, or 'end of string'")
            try:
                reqs.append(self.requirement())
            except SelectorError as e:
                raise SelectorError(f"unable to parse requirement: {e}") from None
            tok, lit = self.take()
            if tok == _END:
                return reqs
            if tok != _COMMA:
                raise SelectorError(f"found '{lit}', expected: ',' or 'end of string'")
            tok, lit = self.peek()
            if tok not in (_ID, _NOT):
                raise SelectorError(f"found '{lit}', expected: identifier after ','")

    def requirement(self) -> Requirement:
        op = ""
        tok, key = self.take()
        if tok == _NOT:
            op = "!exists"
            tok, key = self.take()
        if tok != _ID:
            raise SelectorError(f"found '{key}', expected: identifier")
        check_label_key(key)
        if op or self.peek()[0] in (_END, _COMMA):
            return key, op or "exists", frozenset()
        tok, lit = self.take(values=False)
        op = {_IN: "in", _NOTIN: "notin", _EQ: "=", _EQEQ: "=", _NEQ: "!=", _GT: ">", _LT: "<"}.get(tok)
        if op is None:
            raise SelectorError(f"found '{lit}', expected: {_BINARY_OPERATORS}")
        values = self.value_set() if op in ("in", "notin") else self.exact_value()
        if op in (">", "<"):
            v = next(iter(values))
            if _int64(v) is None:
                raise SelectorError(f"invalid value \"{v}\" for '{key}{op}': for 'Gt', 'Lt' operators, "
                                    "the value must be an integer")
        for v in values:
            check_label_value(v)
        return key, op, values

    def value_set(self) -> frozenset[str]:
        tok, lit = self.take()
        if tok != _OPEN:
            raise SelectorError(f"found '{lit}' expected: '('")
        tok, lit = self.peek()
        if tok == _CLOSE:  # "()" is the empty value, as the server reads it
            self.take()
            return frozenset([""])
        if tok not in (_ID, _COMMA):
            raise SelectorError(f"found '{lit}', expected: ',', ')' or identifier")
        values = self.identifiers()
        tok, lit = self.take()
        if tok != _CLOSE:
            raise SelectorError(f"found '{lit}', expected: ')'")
        return values

    def identifiers(self) -> frozenset[str]:
        """A comma-separated list of possibly empty values: `(a,,b)` and `(,a)` hold "" too."""
        out: set[str] = set()
        while True:
            tok, lit = self.take()
            if tok == _ID:
                out.add(lit)
                tok2, lit2 = self.peek()
                if tok2 == _CLOSE:
                    return frozenset(out)
                if tok2 != _COMMA:
                    raise SelectorError(f"found '{lit2}', expected: ',' or ')'")
            elif tok == _COMMA:
                if not out:
                    out.add("")
                tok2, _ = self.peek()
                if tok2 == _CLOSE:
                    out.add("")
                    return frozenset(out)
                if tok2 == _COMMA:
                    self.take()
                    out.add("")
            else:
                raise SelectorError(f"found '{lit}', expected: ',', or identifier")

    def exact_value(self) -> frozenset[str]:
        tok, _ = self.peek()
        if tok in (_END, _COMMA):
            return frozenset([""])
        tok, lit = self.take()
        if tok != _ID:
            raise SelectorError(f"found '{lit}', expected: identifier")
        return frozenset([lit])


def parse_selector(text: str | None) -> Selector:
    """A labelSelector string as kube-apiserver reads it; raises SelectorError with the server's reason."""
    text = text or ""
    return Selector(tuple(_Parser(text).selector()), text.strip())


_EXPRESSION_OPS = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!exists"}


def selector_from_dict(label_selector: Mapping | None) -> Selector:
    """A metav1.LabelSelector (matchLabels + matchExpressions) as a Selector; `{}` selects everything.
    Stored objects were validated when written, so only an unknown operator is refused."""
    reqs: list[Requirement] = []
    for k, v in sorted(((label_selector or {}).get("matchLabels") or {}).items()):
        reqs.append((k, "=", frozenset([v])))
    for e in (label_selector or {}).get("matchExpressions") or ():
        op = _EXPRESSION_OPS.get(e.get("operator"))
        if op is None:
            raise SelectorError(f'"{e.get("operator")}" is not a valid label selector operator '
                                "(In, NotIn, Exists, DoesNotExist)")
        reqs.append((e.get("key") or "", op, frozenset(e.get("values") or ())))
    return Selector(tuple(reqs), selector_text(label_selector))


def selector_text(label_selector: Mapping | None) -> str:
    """A metav1.LabelSelector as a labelSelector query string."""
    if not label_selector:
        return ""
    parts = [f"{k}={v}" for k, v in sorted((label_selector.get("matchLabels") or {}).items())]
    for e in label_selector.get("matchExpressions") or []:
        key, op, vals = e.get("key", ""), e.get("operator", ""), e.get("values") or []
        if op == "In":
            parts.append(f"{key} in ({','.join(vals)})")
        elif op == "NotIn":
            parts.append(f"{key} notin ({','.join(vals)})")
        elif op == "Exists":
            parts.append(key)
        elif op == "DoesNotExist":
            parts.append(f"!{key}")
    return ",".join(parts)
