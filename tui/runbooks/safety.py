"""What a step may do: template values validated one by one, the argv built (never a shell), kubectl verbs
classified as reading or changing, and Secret values kept off the screen.

Whether a step mutates is decided here, not trusted from the runbook file: kubectl verbs are classified, built-in
actions always mutate, other programs mutate unless the file says `mutates: false`.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from typing import Callable, Mapping

from tui.kube.names import (InvalidName, check_context, check_dns_label, check_label_value, check_namespace,
                            check_object_name)
from tui.runbooks.model import _PLACEHOLDER, Step

# kubectl verbs that only read; everything else changes something (or opens a door: exec, port-forward, proxy)
READ_VERBS = frozenset({"get", "describe", "logs", "top", "explain", "events", "api-resources", "api-versions",
                        "version", "diff", "cluster-info"})
READ_SUBVERBS = {"auth": frozenset({"can-i", "whoami"}), "rollout": frozenset({"status", "history"}),
                 "argo": frozenset()}  # `kubectl argo rollouts get|status|list` handled below
ARGO_READ = frozenset({"get", "status", "list", "lint", "version", "dashboard"}) - {"dashboard"}
# kubectl flags that take a value as the next argument (so that value is not taken for the verb)
VALUE_FLAGS = frozenset({"-n", "--namespace", "-l", "--selector", "-o", "--output", "-c", "--container",
                         "--field-selector", "--sort-by", "--since", "--tail", "--since-time", "--template",
                         "--request-timeout", "-v", "--v", "-f", "--filename", "--type", "-p", "--patch",
                         "--subresource", "--replicas", "--to-revision", "--timeout", "--chunk-size",
                         "--show-kind", "--label-columns", "-L"})
# the session decides where a step runs: a step naming another cluster or identity is refused
SESSION_FLAGS = ("--context", "--kubeconfig", "--cluster", "--user", "--server", "-s", "--token", "--as",
                 "--as-group", "--as-uid", "--username", "--password", "--insecure-skip-tls-verify",
                 "--certificate-authority", "--client-certificate", "--client-key", "--tls-server-name")
SECRET_PRINTING = re.compile(r"^(yaml|json|jsonpath.*|go-template.*|template.*|custom-columns.*|name)$")


def _subdomain(v: str, what: str) -> str:
    return check_object_name(v, what)


# one rule per template value (docs/runbooks.md lists them)
RULES: dict[str, Callable[[str, str], str]] = {
    "context": check_context,
    "namespace": check_namespace,
    "app": check_label_value,
    "rollout": _subdomain,
    "kind": lambda v, what: _one_of(v, what, ("rollout", "deployment", "canary")),  # canary: Flagger
    "pod": _subdomain,
    "canary_pod": _subdomain,
    "stable_pod": _subdomain,
    "service": check_dns_label,
    "preview_service": check_dns_label,
    "track": check_label_value,
    "canary_track": check_label_value,
    "stable_track": check_label_value,
}


def _one_of(v: str, what: str, allowed: tuple[str, ...]) -> str:
    if v not in allowed:
        raise InvalidName(f"{what} '{v[:40]!s}' is not one of {', '.join(allowed)}")
    return v


class StepRefused(Exception):
    """Why a step will not run, in one line (which value and which rule, read-only, Secret values ...)."""


def render(template: str, values: Mapping[str, str | None], why_missing: Mapping[str, str] | None = None) -> str:
    """`template` with each `{name}` replaced by its validated value; StepRefused names the value and the rule."""

    def one(m: re.Match) -> str:
        tok = m.group(0)
        if tok == "{{":
            return "{"
        if tok == "}}":
            return "}"
        name = m.group(1)
        rule = RULES.get(name)
        if rule is None:
            raise StepRefused(f"unknown template value {{{name}}}")
        value = values.get(name)
        if value is None or value == "":
            hint = (why_missing or {}).get(name) or "Lookout does not know it here"
            raise StepRefused(f"{{{name}}} has no value: {hint}")
        try:
            return rule(value, f"{{{name}}}")
        except InvalidName as e:
            raise StepRefused(str(e)) from None

    return _PLACEHOLDER.sub(one, template)


@dataclass(frozen=True)
class KubectlShape:
    verb: str  # "get", "rollout restart", "argo rollouts abort" ...
    mutates: bool
    has_namespace: bool  # -n / --namespace / -A given by the step


def kubectl_shape(args: list[str]) -> KubectlShape:
    """Classify kubectl's argv (without the program): its verb, whether it changes anything."""
    words: list[str] = []
    has_ns = False
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--":
            break
        if a.startswith("-"):
            name = a.split("=", 1)[0]
            if name in ("-n", "--namespace", "-A", "--all-namespaces") or a.startswith("-n") and len(a) > 2 \
                    and not a.startswith("--"):
                has_ns = True
            if "=" not in a and name in VALUE_FLAGS:
                i += 1
        else:
            words.append(a)
        i += 1
    verb = words[0] if words else ""
    if verb in READ_VERBS:
        return KubectlShape(verb, False, has_ns)
    if verb == "argo" and len(words) >= 3 and words[1] == "rollouts":
        return KubectlShape(f"argo rollouts {words[2]}", words[2] not in ARGO_READ, has_ns)
    if verb in READ_SUBVERBS and len(words) >= 2:
        return KubectlShape(f"{verb} {words[1]}", words[1] not in READ_SUBVERBS[verb], has_ns)
    return KubectlShape(" ".join(words[:2]) if verb in ("rollout", "auth", "config", "set", "create") else verb,
                        True, has_ns)


def secret_refusal(args: list[str]) -> str | None:
    """Why these kubectl args would print Secret values, or None. `describe secret` (sizes only) is fine."""
    positional: list[str] = []
    outputs: list[str] = []
    raw = ""
    i = 0
    while i < len(args):
        a = args[i]
        name, eq, val = a.partition("=")
        if a.startswith("-"):
            if name in ("-o", "--output"):
                outputs.append(val if eq else (args[i + 1] if i + 1 < len(args) else ""))
            elif a.startswith("-o") and not a.startswith("--") and len(a) > 2:
                outputs.append(a[2:])
            elif name == "--raw":
                raw = val if eq else (args[i + 1] if i + 1 < len(args) else "")
            elif name in ("--template",):
                outputs.append("go-template")
            if not eq and name in VALUE_FLAGS | {"--raw"}:
                i += 1
        else:
            positional.append(a)
        i += 1
    if not positional or positional[0] not in ("get", "edit", "apply", "create", "patch", "replace"):
        return None
    if "secret" in raw.lower():
        return "it would print Secret values (kubectl get --raw of secrets); Lookout never shows them"
    targets = positional[1:]
    names_secret = any(re.match(r"^(secrets?|secret\.v1|secrets\.v1)(/|,|$)", t) or ",secret" in t
                       or t.startswith(("secret/", "secrets/")) for t in targets)
    if names_secret and (positional[0] != "get" or any(SECRET_PRINTING.match(o or "") for o in outputs)):
        if positional[0] == "get" and outputs == ["name"]:
            return None
        return ("it would print Secret values (kubectl get secret with -o yaml/json/jsonpath/go-template); "
                "use `kubectl describe secret`, which shows sizes only")
    return None


def display(argv: list[str] | tuple[str, ...]) -> str:
    """The command as a user would type it (for copying and for the confirmation)."""
    return " ".join(shlex.quote(a) for a in argv)


def step_mutates(step: Step, rendered: list[str] | None) -> bool:
    """Lookout's own decision: kubectl by its verb (a `mutates: false` in the file cannot make `delete` read),
    actions always, other programs unless the file says `mutates: false`."""
    if step.kind == "action":
        return True
    if step.kind in ("promql", "http", "check"):
        return False
    argv = rendered or list(step.run)
    if argv and argv[0].rsplit("/", 1)[-1] == "kubectl":
        return kubectl_shape(argv[1:]).mutates or bool(step.declared_mutates)
    return step.declared_mutates is not False
