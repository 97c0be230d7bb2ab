"""Text from the cluster is untrusted: control sequences go, markup-looking text stays as it is."""

from __future__ import annotations

import time

import pytest

from tui.textsafe import clean, clean_line


@pytest.mark.parametrize("s", ["[/bold]", "[@click=app.quit]x[/]", "[bold red]boom", "[/", "plain", "", "ünïcødé ✓ 日本"])
def test_markup_and_plain_text_untouched(s):
    assert clean(s) == s and clean_line(s) == s


@pytest.mark.parametrize("s,expected", [
    ("\x1b]8;;http://x\x1b\\click\x1b]8;;\x1b\\", "click"),  # OSC 8 hyperlink, ST-terminated
    ("\x1b]0;pwned title\x07after", "after"),  # OSC, BEL-terminated
    ("\x1b]52;c;Y3VybCBldmlsLnNo\x07x", "x"),  # clipboard write
    ("\x1bc", ""),  # full reset
    ("a\x1b[2J\x1b[31;1mred\x1b[0mb", "aredb"),  # CSI
    ("\x1b[?1049h\x1b[?25l", ""),  # private-mode CSI
    ("\x1bP+q544e\x1b\\ok", "ok"),  # DCS
    ("\x1b_apc\x1b\\\x1b^pm\x1b\\\x1bXsos\x1b\\z", "z"),  # APC, PM, SOS
    ("\x1b(0q\x1b(B", "q"),  # charset designation (nF)
    ("\x1b7\x1b8\x1bM", ""),  # two-character Fp/Fe
    ("x\x9b31my\x9d0;t\x9cz", "xyz"),  # 8-bit CSI and OSC (C1)
    ("\x85\x90dcs\x9c!", "!"),  # NEL and 8-bit DCS
    ("bell\x07 back\x08space del\x7f nul\x00", "bell backspace del nul"),
    ("tab\tkept", "tab\tkept"),
    ("trailing\x1b", "trailing"),
    ("\x1b]8;;unterminated", ""),
])
def test_sequences_stripped(s, expected):
    assert clean(s) == expected


def test_newlines():
    assert clean("a\nb\r\nc\rd") == "a\nb\ncd"
    assert clean_line("a\nb\r\nc\rd\u2028e") == "a b c d e"


def test_nothing_executable_survives():
    nasty = "".join(chr(i) for i in range(0, 0xA0)) * 3
    out = clean_line(nasty)
    assert not any((ord(ch) < 0x20 and ch != "\t") or 0x7F <= ord(ch) < 0xA0 for ch in out)


def test_fast_on_long_text():
    line = ("GET /api/v1/orders 200 12ms [req=abc] " * 50)
    t = time.perf_counter()
    for _ in range(2000):
        clean_line(line)
    assert time.perf_counter() - t < 1.0  # ~1 us per clean line; generous bound for slow CI
