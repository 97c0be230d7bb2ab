"""Runbooks as data: the model, and the YAML loader that says file:line and what is wrong for a malformed one.

A runbook file holds one runbook (a mapping) or several (a list of mappings). The format is in docs/runbooks.md.
Built-in runbooks ship in tui/runbooks/builtin/; user runbooks come from the config directory
(~/.config/lookout/runbooks/*.yaml) and `--runbooks PATH`, and override built-ins by id.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import yaml

from tui.textsafe import clean, clean_line

MAX_FILE_BYTES = 1 << 20
DEFAULT_TIMEOUT = 60.0
MAX_TIMEOUT = 3600.0
STEP_KINDS = ("run", "action", "promql", "http", "check")
ACTIONS = ("promote", "promote-full", "abort", "retry", "pause", "resume", "restart", "undo", "scale",
           "switch", "rollback")  # rollback: abort for an Argo Rollout, undo for a Deployment
# what a `when` condition may name (docs/runbooks.md lists the values each takes)
CONDITION_KINDS = ("finding", "verdict", "reason", "outcome", "phase", "waiting", "strategy")
VERDICTS = ("promote", "hold", "rollback", "no-data")
STRATEGIES = ("canary", "bluegreen")
TEMPLATE_NAMES = ("context", "namespace", "app", "rollout", "kind", "pod", "canary_pod", "stable_pod", "service",
                  "preview_service", "track", "canary_track", "stable_track")
_ID = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")


class RunbookError(ValueError):
    """str() is one line: `file:line: what is wrong`."""

    def __init__(self, where: str, line: int | None, message: str):
        self.where, self.line, self.message = where, line, message
        super().__init__(f"{where}:{line}: {message}" if line else f"{where}: {message}")


@dataclass(frozen=True)
class Condition:
    kind: str  # one of CONDITION_KINDS, or "any" (then `alternatives` holds the conditions)
    value: str = ""
    alternatives: tuple["Condition", ...] = ()

    def text(self) -> str:
        if self.kind == "any":
            return "any of (" + ", ".join(c.text() for c in self.alternatives) + ")"
        return f"{self.kind} {self.value}"


@dataclass(frozen=True)
class Step:
    title: str
    why: str
    kind: str  # one of STEP_KINDS
    run: tuple[str, ...] = ()  # argv template (kind run)
    action: str = ""  # kind action
    argument: str = ""  # action argument (scale: replicas) / promql query / http path / check text
    declared_mutates: bool | None = None  # what the file says; Lookout decides (tui/runbooks/safety.py)
    timeout: float = DEFAULT_TIMEOUT
    track: str | None = None  # which track's first pod `{pod}` is when no pod is selected (CLI)
    source: str = ""  # the seed section it comes from
    line: int = 0


@dataclass(frozen=True)
class Runbook:
    id: str
    title: str
    steps: tuple[Step, ...]
    source: str = ""
    symptoms: tuple[str, ...] = ()
    when: tuple[Condition, ...] = ()
    key: str | None = None
    origin: str = ""  # file:line it was read from
    builtin: bool = False


# ---- loading ----------------------------------------------------------------------------------------


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


class _Reader:
    def __init__(self, where: str):
        self.where = where

    def bad(self, node: yaml.Node | None, message: str) -> RunbookError:
        return RunbookError(self.where, _line(node) if node is not None else None, message)

    def mapping(self, node: yaml.Node, what: str) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        if not isinstance(node, yaml.MappingNode):
            raise self.bad(node, f"{what}: expected a mapping")
        out: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for k, v in node.value:
            if not isinstance(k, yaml.ScalarNode):
                raise self.bad(k, f"{what}: keys must be plain words")
            if k.value in out:
                raise self.bad(k, f"{what}: '{clean_line(k.value)}' given twice")
            out[k.value] = (k, v)
        return out

    def text(self, node: yaml.Node, what: str, *, empty: bool = False, multiline: bool = False) -> str:
        if not isinstance(node, yaml.ScalarNode) or node.tag not in ("tag:yaml.org,2002:str",
                                                                      "tag:yaml.org,2002:int",
                                                                      "tag:yaml.org,2002:float"):
            raise self.bad(node, f"{what}: expected text")
        value = node.value
        if not empty and not value.strip():
            raise self.bad(node, f"{what}: must not be empty")
        if (clean(value) if multiline else clean_line(value)) != value:
            raise self.bad(node, f"{what}: contains control characters")
        return value

    def boolean(self, node: yaml.Node, what: str) -> bool:
        if not isinstance(node, yaml.ScalarNode) or node.tag != "tag:yaml.org,2002:bool":
            raise self.bad(node, f"{what}: expected true or false")
        return node.value.lower() in ("true", "yes", "on")

    def number(self, node: yaml.Node, what: str) -> float:
        try:
            if not isinstance(node, yaml.ScalarNode) or node.tag not in ("tag:yaml.org,2002:int",
                                                                          "tag:yaml.org,2002:float"):
                raise ValueError
            return float(node.value)
        except ValueError:
            raise self.bad(node, f"{what}: expected a number") from None

    def seq(self, node: yaml.Node, what: str) -> list[yaml.Node]:
        if not isinstance(node, yaml.SequenceNode):
            raise self.bad(node, f"{what}: expected a list")
        return list(node.value)

    def unknown(self, m: dict, allowed: Iterable[str], what: str) -> None:
        allowed = tuple(allowed)
        for key, (knode, _v) in m.items():
            if key not in allowed:
                raise self.bad(knode, f"{what}: unknown key '{clean_line(key)}' (expected one of: "
                                      f"{', '.join(allowed)})")


def check_template(reader: _Reader, node: yaml.Node, text: str, what: str) -> None:
    """Every `{name}` must be a known template value; `{{` and `}}` are literal braces (kubectl's jsonpath)."""
    for m in _PLACEHOLDER.finditer(text):
        name = m.group(1)
        if name is not None and name not in TEMPLATE_NAMES:
            raise reader.bad(node, f"{what}: unknown template value {{{name}}} (known: "
                                   f"{', '.join('{' + n + '}' for n in TEMPLATE_NAMES)}; write {{{{ and }}}} for "
                                   "literal braces)")


def _condition(r: _Reader, node: yaml.Node, what: str) -> Condition:
    m = r.mapping(node, what)
    if len(m) != 1:
        raise r.bad(node, f"{what}: one condition per list item (finding, verdict, reason, outcome, phase, waiting, "
                          "strategy, or any)")
    key, (knode, vnode) = next(iter(m.items()))
    if key == "any":
        alts = tuple(_condition(r, n, f"{what}.any") for n in r.seq(vnode, f"{what}.any"))
        if not alts:
            raise r.bad(vnode, f"{what}.any: needs at least one condition")
        return Condition("any", alternatives=alts)
    if key not in CONDITION_KINDS:
        raise r.bad(knode, f"{what}: unknown condition '{clean_line(key)}' (expected one of: "
                           f"{', '.join(CONDITION_KINDS)}, any)")
    value = r.text(vnode, f"{what}.{key}")
    if key == "verdict" and value not in VERDICTS:
        raise r.bad(vnode, f"{what}.verdict: '{clean_line(value)}' is not one of {', '.join(VERDICTS)}")
    if key == "strategy" and value not in STRATEGIES:
        raise r.bad(vnode, f"{what}.strategy: '{clean_line(value)}' is not one of {', '.join(STRATEGIES)}")
    if key == "outcome":
        from tui.assessment import OUTCOMES

        if value not in OUTCOMES:
            raise r.bad(vnode, f"{what}.outcome: '{clean_line(value)}' is not one of {', '.join(OUTCOMES)}")
    return Condition(key, value)


def _step(r: _Reader, node: yaml.Node, what: str) -> Step:
    m = r.mapping(node, what)
    r.unknown(m, ("title", "why", "mutates", "timeout", "track", "source") + STEP_KINDS, what)
    for need in ("title", "why"):
        if need not in m:
            raise r.bad(node, f"{what}: '{need}' is missing")
    kinds = [k for k in STEP_KINDS if k in m]
    if len(kinds) != 1:
        raise r.bad(node, f"{what}: needs exactly one of {', '.join(STEP_KINDS)}"
                          + (f" (has {', '.join(kinds)})" if kinds else ""))
    kind = kinds[0]
    knode, vnode = m[kind]
    run: tuple[str, ...] = ()
    action = argument = ""
    if kind == "run":
        items = r.seq(vnode, f"{what}.run")
        if not items:
            raise r.bad(vnode, f"{what}.run: the argv list is empty")
        # an argv item may hold line breaks (a script for `sh -c` or `python -c`); no other control character
        run = tuple(r.text(i, f"{what}.run[{n}]", multiline=n > 0) for n, i in enumerate(items))
        for n, (i, a) in enumerate(zip(items, run)):
            check_template(r, i, a, f"{what}.run[{n}]")
        if "{" in run[0] or "/" in run[0] and not os.path.isabs(run[0]):
            raise r.bad(items[0], f"{what}.run[0]: the program must be a plain name or an absolute path, not a "
                                  "template")
    elif kind == "action":
        if isinstance(vnode, yaml.MappingNode):
            am = r.mapping(vnode, f"{what}.action")
            r.unknown(am, ("name", "replicas"), f"{what}.action")
            if "name" not in am:
                raise r.bad(vnode, f"{what}.action: 'name' is missing")
            action = r.text(am["name"][1], f"{what}.action.name")
            if "replicas" in am:
                n = r.number(am["replicas"][1], f"{what}.action.replicas")
                if n < 0 or n != int(n):
                    raise r.bad(am["replicas"][1], f"{what}.action.replicas: a whole number >= 0")
                argument = str(int(n))
        else:
            action = r.text(vnode, f"{what}.action")
        if action not in ACTIONS:
            raise r.bad(vnode, f"{what}.action: '{clean_line(action)}' is not one of {', '.join(ACTIONS)}")
        if action == "scale" and not argument:
            raise r.bad(vnode, f"{what}.action: scale needs replicas")
    else:
        argument = r.text(vnode, f"{what}.{kind}")
        if kind in ("promql", "http"):
            check_template(r, vnode, argument, f"{what}.{kind}")
        if kind == "http" and not argument.startswith("/"):
            raise r.bad(vnode, f"{what}.http: a path starting with '/', e.g. /metrics")
    declared = r.boolean(m["mutates"][1], f"{what}.mutates") if "mutates" in m else None
    timeout = DEFAULT_TIMEOUT
    if "timeout" in m:
        timeout = r.number(m["timeout"][1], f"{what}.timeout")
        if not 0 < timeout <= MAX_TIMEOUT:
            raise r.bad(m["timeout"][1], f"{what}.timeout: seconds, more than 0 and at most {MAX_TIMEOUT:g}")
    track = r.text(m["track"][1], f"{what}.track") if "track" in m else None
    if track is not None and track not in ("canary", "stable", "candidate", "baseline"):
        raise r.bad(m["track"][1], f"{what}.track: one of canary, stable, candidate, baseline")
    return Step(title=r.text(m["title"][1], f"{what}.title"), why=r.text(m["why"][1], f"{what}.why"), kind=kind,
                run=run, action=action, argument=argument, declared_mutates=declared, timeout=timeout, track=track,
                source=r.text(m["source"][1], f"{what}.source") if "source" in m else "", line=_line(node))


def _runbook(r: _Reader, node: yaml.Node, builtin: bool, reserved_keys: frozenset[str]) -> Runbook:
    m = r.mapping(node, "runbook")
    r.unknown(m, ("id", "title", "source", "symptoms", "when", "key", "steps"), "runbook")
    for need in ("id", "title", "steps"):
        if need not in m:
            raise r.bad(node, f"runbook: '{need}' is missing")
    rid = r.text(m["id"][1], "id")
    if len(rid) > 63 or not _ID.fullmatch(rid):
        raise r.bad(m["id"][1], f"id: '{clean_line(rid)}' must be lowercase letters, digits and '-' (at most 63)")
    what = f"runbook {rid}"
    symptoms = tuple(r.text(n, f"{what}.symptoms") for n in r.seq(m["symptoms"][1], f"{what}.symptoms")) \
        if "symptoms" in m else ()
    when = tuple(_condition(r, n, f"{what}.when") for n in r.seq(m["when"][1], f"{what}.when")) \
        if "when" in m else ()
    key = None
    if "key" in m:
        key = r.text(m["key"][1], f"{what}.key")
        if key in reserved_keys:
            raise r.bad(m["key"][1], f"{what}.key: '{clean_line(key)}' is already a Lookout key")
        if not re.fullmatch(r"(ctrl\+|alt\+|shift\+)?[a-z0-9]|f[0-9]{1,2}", key):
            raise r.bad(m["key"][1], f"{what}.key: '{clean_line(key)}' is not a key name (a letter or digit, "
                                     "optionally ctrl+/alt+/shift+, or f1-f12)")
    steps = tuple(_step(r, n, f"{what}.steps[{i + 1}]") for i, n in enumerate(r.seq(m["steps"][1],
                                                                                      f"{what}.steps")))
    if not steps:
        raise r.bad(m["steps"][1], f"{what}.steps: needs at least one step")
    return Runbook(id=rid, title=r.text(m["title"][1], f"{what}.title"), steps=steps,
                   source=r.text(m["source"][1], f"{what}.source") if "source" in m else "", symptoms=symptoms,
                   when=when, key=key, origin=f"{r.where}:{_line(node)}", builtin=builtin)


def parse_runbooks(text: str, where: str, *, builtin: bool = False,
                   reserved_keys: Iterable[str] = ()) -> list[Runbook]:
    """Every runbook in one YAML document; RunbookError (file:line: what) on the first thing wrong."""
    r = _Reader(where)
    if len(text.encode("utf-8", "surrogatepass")) > MAX_FILE_BYTES:
        raise RunbookError(where, None, f"larger than {MAX_FILE_BYTES} bytes")
    try:
        docs = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        raise RunbookError(where, mark.line + 1 if mark else None,
                           f"not valid YAML: {clean_line(str(e.problem or e.context or 'syntax error'))}") from None
    except yaml.YAMLError as e:
        raise RunbookError(where, None, f"not valid YAML: {clean_line(str(e))}") from None
    docs = [d for d in docs if d is not None]
    if len(docs) != 1:
        raise RunbookError(where, None, "expected one YAML document (a runbook or a list of runbooks)")
    root = docs[0]
    if _has_alias_loop(root):
        raise r.bad(root, "YAML aliases are not allowed in runbooks")
    nodes = root.value if isinstance(root, yaml.SequenceNode) else [root]
    reserved = frozenset(reserved_keys)
    out: list[Runbook] = []
    seen: dict[str, int] = {}
    for n in nodes:
        rb = _runbook(r, n, builtin, reserved)
        if rb.id in seen:
            raise r.bad(n, f"id '{rb.id}' is already used at line {seen[rb.id]}")
        seen[rb.id] = _line(n)
        out.append(rb)
    return out


def _has_alias_loop(root: yaml.Node) -> bool:
    """Aliases make one node appear twice: refused outright (no billion laughs, no surprises)."""
    seen: set[int] = set()
    stack = [root]
    while stack:
        n = stack.pop()
        if id(n) in seen:
            return True
        seen.add(id(n))
        if isinstance(n, yaml.SequenceNode):
            stack.extend(n.value)
        elif isinstance(n, yaml.MappingNode):
            for k, v in n.value:
                stack.extend((k, v))
    return False


def load_file(path: str | os.PathLike, *, builtin: bool = False, reserved_keys: Iterable[str] = ()) -> list[Runbook]:
    p = Path(path)
    try:
        with open(p, "rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as e:
        raise RunbookError(str(p), None, f"cannot read: {e.strerror or e}") from None
    if len(data) > MAX_FILE_BYTES:
        raise RunbookError(str(p), None, f"larger than {MAX_FILE_BYTES} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise RunbookError(str(p), None, f"not UTF-8 (byte {e.start})") from None
    return parse_runbooks(text, str(p), builtin=builtin, reserved_keys=reserved_keys)


def builtin_dir() -> Path:
    return Path(__file__).resolve().parent / "builtin"


def user_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "lookout" / "runbooks"


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
    return [path]


@dataclass
class Catalog:
    """Built-in runbooks overridden by id by the user's; `errors` holds the broken user files (one line each),
    which leave the rest working."""

    runbooks: list[Runbook] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def get(self, rid: str) -> Runbook | None:
        return next((r for r in self.runbooks if r.id == rid), None)


def load_catalog(extra: Iterable[str | os.PathLike] = (), *, include_user_dir: bool = True,
                 reserved_keys: Iterable[str] = ()) -> Catalog:
    reserved = tuple(reserved_keys)
    by_id: dict[str, Runbook] = {}
    for p in _files(builtin_dir()):
        for rb in load_file(p, builtin=True, reserved_keys=reserved):
            by_id[rb.id] = rb
    errors: list[str] = []
    sources: list[Path] = []
    if include_user_dir and user_dir().is_dir():
        sources.append(user_dir())
    sources += [Path(e) for e in extra]
    for src in sources:
        if not src.exists():
            errors.append(f"{src}: no such file or directory")
            continue
        for p in _files(src):
            try:
                for rb in load_file(p, reserved_keys=reserved):
                    by_id[rb.id] = rb
            except RunbookError as e:
                errors.append(str(e))
    return Catalog(list(by_id.values()), errors)
