"""Input checks where names enter Lookout (flags, `:ns`, `:ctx`, `:rollout`): Kubernetes' own rules, one sentence
naming the rule that failed."""

from __future__ import annotations

import re

__all__ = ["InvalidName", "check_namespace", "check_app", "check_context", "check_object_name", "check_label_value",
           "check_dns_label"]

_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_LABEL_VALUE = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
# C0, DEL, C1, and the bidi/invisible format characters that make a name read as another
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\u061c\ufeff]")


class InvalidName(ValueError):
    """str() is one sentence: what was given (escaped) and the rule it breaks."""


def _shown(value: str) -> str:
    return ascii(value)[1:-1] if not value.isascii() or _UNSAFE.search(value) else value


def check_namespace(value: str, what: str = "namespace") -> str:
    """A namespace name is an RFC 1123 label: at most 63 lowercase letters, digits and '-', starting and
    ending with a letter or digit."""
    if not isinstance(value, str) or len(value) > 63 or not _DNS_LABEL.fullmatch(value):
        raise InvalidName(f"{what} '{_shown(str(value))}' is not a valid namespace name: it must be an RFC 1123 "
                          "label (at most 63 lowercase letters, digits or '-', starting and ending with a letter "
                          "or digit)")
    return value


_KIND_WORD = re.compile(r"[A-Za-z][-A-Za-z0-9]*(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


def check_app(value: str, what: str = "--app") -> str:
    """A Rollout/Deployment name (RFC 1123 subdomain, 253 characters) or an `app` label value (63 characters:
    letters, digits, '-', '_', '.', starting and ending with a letter or digit), optionally as KIND/NAME
    (`rollout/checkout`, `veritascanary/checkout`: a kind, its plural or a [crds] mapping's name)."""
    if isinstance(value, str) and value.count("/") == 1:
        word, _, name = value.partition("/")
        if not _KIND_WORD.fullmatch(word) or len(word) > 253:
            raise InvalidName(f"{what} '{_shown(value)}': '{_shown(word)}' is not a kind (expected KIND/NAME such as "
                              "rollout/checkout)")
        check_app(name, what)
        return value
    ok = isinstance(value, str) and value and (
        (len(value) <= 63 and _LABEL_VALUE.fullmatch(value))
        or (len(value) <= 253 and _DNS_SUBDOMAIN.fullmatch(value)))
    if not ok:
        raise InvalidName(f"{what} '{_shown(str(value))}' is neither a valid label value (at most 63 letters, digits, "
                          "'-', '_' or '.', starting and ending with a letter or digit) nor a valid object name "
                          "(RFC 1123 subdomain)")
    return value


def check_context(value: str, what: str = "context") -> str:
    """Contexts have no name rule (EKS names them by ARN), but control and bidi characters are refused."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidName(f"{what} name is empty")
    if _UNSAFE.search(value):
        raise InvalidName(f"{what} name '{_shown(value)}' contains control or invisible characters")
    return value


def check_object_name(value: str, what: str = "name") -> str:
    """An object name (Pod, Rollout, Deployment, ConfigMap ...): an RFC 1123 subdomain, at most 253 characters."""
    if not isinstance(value, str) or not value or len(value) > 253 or not _DNS_SUBDOMAIN.fullmatch(value):
        raise InvalidName(f"{what} '{_shown(str(value))[:80]}' is not a valid object name: it must be an RFC 1123 "
                          "subdomain (at most 253 lowercase letters, digits, '-' or '.', starting and ending with a "
                          "letter or digit)")
    return value


def check_dns_label(value: str, what: str = "name") -> str:
    """A Service name (and namespace): an RFC 1123 label, at most 63 characters."""
    if not isinstance(value, str) or len(value) > 63 or not _DNS_LABEL.fullmatch(value):
        raise InvalidName(f"{what} '{_shown(str(value))[:80]}' is not a valid name: it must be an RFC 1123 label (at "
                          "most 63 lowercase letters, digits or '-', starting and ending with a letter or digit)")
    return value


def check_label_value(value: str, what: str = "label value") -> str:
    """A label value: empty, or at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or
    digit."""
    if not isinstance(value, str) or len(value) > 63 or (value and not _LABEL_VALUE.fullmatch(value)):
        raise InvalidName(f"{what} '{_shown(str(value))[:80]}' is not a valid label value: at most 63 letters, "
                          "digits, '-', '_' or '.', starting and ending with a letter or digit")
    return value
