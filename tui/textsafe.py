"""Make text from the cluster safe to put on a terminal: strip control characters and escape sequences.

Markup-looking text such as ``[bold]`` is deliberately left alone: widgets render cluster text with
``Text(s)`` / ``markup=False``, so brackets are harmless there, and users need to see them as they are.
"""

from __future__ import annotations

import re

__all__ = ["clean", "clean_line"]

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
# Cheap test first: most strings contain no control character at all.
_ANY_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")
_LINE_BREAKS = re.compile("\r\n|[\r\n\u2028\u2029\x85]")


def clean(s: str) -> str:
    """`s` without terminal control sequences or control characters; TAB and LF are kept.

    CR is dropped (a lone CR would let a line overwrite itself on a terminal); callers that want one
    line use `clean_line`.
    """
    if not s or not _ANY_CONTROL.search(s):
        return s
    return _SEQUENCES.sub("", s)


def clean_line(s: str) -> str:
    """Like `clean`, but every line break (CR, LF, CRLF, U+2028/2029, NEL) becomes one space."""
    if not s or not _ANY_CONTROL.search(s) and "\u2028" not in s and "\u2029" not in s:
        return s
    return _SEQUENCES.sub("", _LINE_BREAKS.sub(" ", s))
