"""Make untrusted text safe to put on a terminal or in a file: one sanitiser for every output path.

- `clean` / `clean_line` (free text: messages, log lines, error text): C0 (but TAB, LF), DEL, C1 and escape
  sequences stripped; bidi controls (U+202A-U+202E, U+2066-U+2069, U+200E/F, U+061C) shown as ``<U+202E>``
  so a bidi terminal cannot reverse the rest of the line; joiners (ZWJ, ZWNJ) kept: emoji and scripts need them.
- `clean_ident` (names, labels, hosts, contexts): the same, and every invisible format character
  (zero-width space and joiners, word joiner, BOM, soft hyphen ...) escaped too, so ``checkout\u200b``
  never looks like ``checkout``. One line.
- `mask_url`: ``http://user:***@host``; a URL's password is never shown.

Markup-looking text such as ``[bold]`` is deliberately left alone: widgets render cluster text with
``Text(s)`` / ``markup=False``, so brackets are harmless there, and users need to see them as they are.
"""

from __future__ import annotations

import re

__all__ = ["clean", "clean_line", "clean_ident", "mask_url"]

# One pass, one compiled pattern; alternatives are tried left to right at each position.
_SEQUENCES = re.compile(
    # DCS, SOS, PM, APC strings (7-bit ESC P/X/^/_ or 8-bit C1), up to ST (ESC \ or 0x9c) or BEL.
    # Unterminated strings run to the end, as a terminal would swallow them too.
    r"(?:\x1b[PX^_]|[\x90\x98\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    # OSC (hyperlinks, window titles, clipboard writes), same terminators.
    r"|(?:\x1b\]|\x9d)[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    # CSI: parameter bytes, intermediate bytes, one final byte.
    r"|(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"
    # nF (ESC + intermediates + final, e.g. ESC ( B) and the two-character Fp/Fe/Fs (ESC c, ESC 7, ...).
    r"|\x1b[ -/]*[0-~]"
    # Everything else that is a control: C0 except TAB and LF, DEL, C1 (this also takes a lone ESC).
    r"|[\x00-\x08\x0b-\x1f\x7f-\x9f]"
)
# Cheap test first: most strings contain no control character at all (ASCII-only strings skip the rest).
_ANY_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")
# Bidi controls: embeddings, overrides, isolates, marks. Escaped visibly in all text.
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")
# Invisible format characters that make two identifiers look alike: zero-width space/joiners, word joiner and
# invisible operators, BOM, soft hyphen, Mongolian vowel separator, combining grapheme joiner, Hangul fillers.
_INVISIBLE = re.compile("[\u202a-\u202e\u2066-\u2069\u200b-\u200f\u061c\u2060-\u2064\ufeff\u00ad\u180e"
                        "\u034f\u115f\u1160\u3164\uffa0\ufe00-\ufe0f]")
_LINE_BREAKS = re.compile("\r\n|[\r\n\u2028\u2029\x85]")


def clean(s: str) -> str:
    """`s` without terminal control sequences or control characters; TAB and LF are kept.

    CR is dropped (a lone CR would let a line overwrite itself on a terminal); callers that want one
    line use `clean_line`.
    """
    if not s:
        return s
    if not isinstance(s, str):  # a number or a list where a hostile object should have had a string
        s = str(s)
    if _ANY_CONTROL.search(s):
        s = _SEQUENCES.sub("", s)
    if not s.isascii():
        s = _BIDI.sub(_escape, s)
    return s


def clean_line(s: str) -> str:
    """Like `clean`, but every line break (CR, LF, CRLF, U+2028/2029, NEL) becomes one space."""
    if not s:
        return s
    if not isinstance(s, str):
        s = str(s)
    ascii_only = s.isascii()
    if _ANY_CONTROL.search(s) or not ascii_only and ("\u2028" in s or "\u2029" in s):
        s = _SEQUENCES.sub("", _LINE_BREAKS.sub(" ", s))
    if not ascii_only:
        s = _BIDI.sub(_escape, s)
    return s


def clean_ident(s: object) -> str:
    """One line for an identifier (name, label, host, context): invisible characters shown as ``<U+200B>``."""
    s = s if isinstance(s, str) else str(s)
    if not s:
        return s
    if _ANY_CONTROL.search(s) or not s.isascii() and ("\u2028" in s or "\u2029" in s):
        s = _SEQUENCES.sub("", _LINE_BREAKS.sub(" ", s))
    if not s.isascii():
        s = _INVISIBLE.sub(_escape, s)
    return s


def _escape(m: re.Match) -> str:
    return f"<U+{ord(m.group()):04X}>"


_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<user>[^/?#@\s:]*)(?::(?P<pw>[^/?#@\s]*))?@")


def mask_url(url: str) -> str:
    """`url` (or any text quoting URLs) with each password replaced by ``***``: ``http://user:***@host``.

    A user without a password is kept, unless it is 20 characters or more: that is a bare token
    (``https://TOKEN@host``), shown as ``https://***@host``.
    """
    if not url or "@" not in url:
        return url
    return _USERINFO.sub(_mask_one, url)


def _mask_one(m: re.Match) -> str:
    user, pw = m.group("user"), m.group("pw")
    if pw is not None:
        return f"{m.group('scheme')}{user}:***@"
    if len(user) >= 20:  # a bare token as user info
        return f"{m.group('scheme')}***@"
    return m.group(0)

