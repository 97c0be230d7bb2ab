"""Runbooks on the main screen: the picker (`r`), the docked runbook panel with its steps and their output, and the
confirmation a mutating step needs. They render what the app hands them and report intent as messages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Sequence

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Input, Log, OptionList, Static
from textual.widgets.option_list import Option

from tui.textsafe import clean_ident, clean_line

STATE_LOOK = {"pending": ("·", ""), "running": ("▶", "bold"), "ok": ("✓", "green"), "failed": ("✗", "red"),
              "timeout": ("✗", "red"), "cancelled": ("✗", "yellow"), "refused": ("⊘", "yellow"),
              "manual": ("☐", "cyan"), "declined": ("⊘", ""), "done": ("☑", "green")}
OUTPUT_LINES = 5000
# Output reaches the Log at most this often: a step printing 1,000 lines a second costs four repaints a second (and
# that many screen updates over SSH), not a thousand, so the panes beside it keep their pace (bench/README.md).
OUTPUT_FLUSH_SECONDS = 0.25


@dataclass(frozen=True)
class PickerItem:
    id: str
    title: str
    because: str = ""  # why it is suggested ("" when it is not)
    source: str = ""
    symptoms: str = ""


class RunbookPicker(ModalScreen[str | None]):
    """Type to filter; suggested runbooks first, each with the finding that triggered it; enter opens one."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", tooltip="close the picker"),
        Binding("down", "move(1)", "Down", show=False, tooltip="next runbook"),
        Binding("up", "move(-1)", "Up", show=False, tooltip="previous runbook"),
    ]

    def __init__(self, items: Sequence[PickerItem], errors: Sequence[str] = ()) -> None:
        super().__init__()
        self.items = list(items)
        self.errors = list(errors)
        self.shown: list[PickerItem] = list(items)

    def compose(self) -> ComposeResult:
        with Vertical(id="runbook-picker"):
            n = sum(1 for i in self.items if i.because)
            head = f"Runbooks · {n} suggested by what Lookout sees · type to filter, enter opens, esc closes"
            yield Static(Text(head, style="bold", no_wrap=True, overflow="ellipsis"), classes="screen-title")
            yield Input(placeholder="filter runbooks", id="runbook-filter")
            yield OptionList(id="runbook-list")
            if self.errors:
                yield Static(Text("\n".join(f"! {clean_line(e)}" for e in self.errors[:3]), style="yellow"),
                             id="runbook-errors")

    def on_mount(self) -> None:
        self._fill("")
        self.query_one(Input).focus()

    def _fill(self, text: str) -> None:
        words = text.lower().split()
        self.shown = [i for i in self.items
                      if all(w in f"{i.id} {i.title} {i.symptoms} {i.because}".lower() for w in words)]
        ol = self.query_one(OptionList)
        ol.clear_options()
        ol.add_options([Option(self._text(i), id=i.id) for i in self.shown])
        if self.shown:
            ol.highlighted = 0

    @staticmethod
    def _text(i: PickerItem) -> Text:
        t = Text(no_wrap=True, overflow="ellipsis")
        if i.because:
            t.append("▶ ", style="bold green")
            t.append(clean_line(i.title), style="bold")
            because = clean_line(i.because)
            t.append(f"  because: {because if len(because) <= 70 else because[:69] + '…'}", style="dim")
        else:
            t.append("  " + clean_line(i.title))
            t.append(f"  {clean_ident(i.id)}", style="dim")
        return t

    @on(Input.Changed, "#runbook-filter")
    def _filter(self, event: Input.Changed) -> None:
        self._fill(event.value)

    @on(Input.Submitted, "#runbook-filter")
    def _submit(self, _event: Input.Submitted) -> None:
        ol = self.query_one(OptionList)
        if ol.highlighted is not None and self.shown:
            self.dismiss(self.shown[ol.highlighted].id)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)

    def action_move(self, step: int) -> None:
        ol = self.query_one(OptionList)
        if step > 0:
            ol.action_cursor_down()
        else:
            ol.action_cursor_up()

    def action_cancel(self) -> None:
        self.dismiss(None)


class ConfirmStep(ModalScreen[bool]):
    """A step that changes the cluster: where, what object, the exact command; `y` runs it, anything else not."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes, run it", tooltip="run the step as shown"),
        Binding("n", "answer(False)", "No", tooltip="do not run it: nothing changes"),
        Binding("escape", "answer(False)", "No", show=False, tooltip="do not run it: nothing changes"),
    ]

    def __init__(self, title: str, target: str, command: str, note: str = "") -> None:
        super().__init__()
        self.step_title = title
        self.target = target
        self.command = command
        self.note = note

    def compose(self) -> ComposeResult:
        t = Text()
        t.append("! This step changes the cluster\n\n", style="bold yellow")
        t.append(clean_line(self.step_title) + "\n", style="bold")
        if self.note:
            t.append(clean_line(self.note) + "\n", style="yellow")
        t.append("\non:  ", style="dim")
        t.append(clean_line(self.target) + "\n")
        t.append("runs: ", style="dim")
        t.append(clean_line(self.command) + "\n\n")
        t.append("y", style="bold")
        t.append(" run it · ")
        t.append("n", style="bold")
        t.append(" / esc: do nothing")
        with Vertical(id="confirm-step"):
            yield Static(t, id="confirm-text")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(bool(yes))


class RunbookPanel(Vertical, can_focus=False):
    """Docked under the panes: the open runbook's steps with their state, and the output of the step that ran."""

    BINDINGS: ClassVar[list[BindingType]] = [
        *(Binding(str(n), f"run({n})", f"Step {n}", show=False, tooltip=f"run step {n}") for n in range(1, 10)),
        Binding("n", "run_next", "Next step", tooltip="run the next step not yet run"),
        Binding("enter", "run_selected", "Run step", tooltip="run the selected step"),
        Binding("x", "cancel", "Cancel step", tooltip="cancel the running step (its process is killed)"),
        Binding("slash", "search_output", "Search", key_display="/",
                tooltip="search the output (enter: next match, esc: done)"),
        Binding("z", "zoom", "Zoom", tooltip="zoom the runbook panel (z again back)"),
        Binding("escape", "close", "Close", tooltip="close the runbook panel"),
    ]

    class Run(Message):
        def __init__(self, index: int) -> None:
            super().__init__()
            self.index = index  # 0-based

    class Cancel(Message):
        pass

    class Closed(Message):
        pass

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.runbook_id: str | None = None
        self.states: list[str] = []
        self.notes: list[str] = []
        self.titles: list[str] = []
        self.mutating: list[bool] = []
        self._pending: list[str] = []
        self._timer = None

    def compose(self) -> ComposeResult:
        yield Static("", id="runbook-title")
        yield OptionList(id="runbook-steps")
        search = Input(placeholder="search the output: enter finds the next match, esc closes", id="runbook-search")
        search.cursor_blink = False
        yield search
        yield Log(max_lines=OUTPUT_LINES, id="runbook-output")

    def open(self, runbook_id: str, title: str, source: str, steps: Sequence[tuple[str, bool, str]],
             context: str = "") -> None:
        """`steps`: (title, mutates, note) each; note says why it cannot run or what to do by hand."""
        self.runbook_id = runbook_id
        self.titles = [s[0] for s in steps]
        self.mutating = [s[1] for s in steps]
        self.notes = [s[2] for s in steps]
        self.states = ["pending"] * len(steps)
        head = Text(no_wrap=True, overflow="ellipsis")
        head.append(f"runbook {clean_line(title)}", style="bold")
        if context:  # what {pod} is: the selected pod (the suggesting finding's, when it came from one)
            head.append(f"  · {clean_line(context)}")
        if source:
            head.append(f"  · {clean_line(source)}", style="dim")
        head.append("  · 1-9/n/enter run, x cancel, z zoom, esc close", style="dim")
        self.query_one("#runbook-title", Static).update(head)
        self.query_one(Log).clear()
        self._redraw_steps()
        self.display = True
        ol = self.query_one(OptionList)
        ol.highlighted = 0
        ol.focus()

    def _line(self, i: int) -> Text:
        symbol, style = STATE_LOOK.get(self.states[i], ("?", ""))
        t = Text(no_wrap=True, overflow="ellipsis")
        t.append(f"{symbol} {i + 1}. ", style=style)
        t.append(clean_line(self.titles[i]))
        if self.mutating[i]:
            t.append("  [changes]", style="yellow")
        if self.notes[i]:
            t.append(f"  {self.states[i]}: {clean_line(self.notes[i])}", style="dim")
        return t

    def _redraw_steps(self) -> None:
        ol = self.query_one(OptionList)
        keep = ol.highlighted
        ol.clear_options()
        ol.add_options([Option(self._line(i), id=str(i)) for i in range(len(self.titles))])
        if keep is not None and self.titles:
            ol.highlighted = min(keep, len(self.titles) - 1)

    def set_step(self, index: int, state: str, note: str | None = None) -> None:
        if not 0 <= index < len(self.states):
            return
        self.states[index] = state
        if note is not None:
            self.notes[index] = note
        self._redraw_steps()

    def write(self, line: str) -> None:
        """Buffer a (sanitised) output line; lines reach the Log in batches, so a fast stream costs few repaints."""
        self._pending.append(line)
        if len(self._pending) > OUTPUT_LINES:
            del self._pending[:-OUTPUT_LINES]
        if self._timer is None:
            self._timer = self.set_timer(OUTPUT_FLUSH_SECONDS, self._flush)

    def _flush(self) -> None:
        self._timer = None
        lines, self._pending = self._pending, []
        if lines and self.is_attached:
            self.query_one(Log).write_lines(lines)

    def output_text(self) -> str:
        self._flush()
        return "\n".join(str(x) for x in self.query_one(Log).lines)

    def on_mount(self) -> None:
        self.query_one("#runbook-search", Input).display = False
        self._match = -1

    def action_search_output(self) -> None:
        box = self.query_one("#runbook-search", Input)
        box.display = True
        box.focus()

    @on(Input.Submitted, "#runbook-search")
    def _find_next(self, event: Input.Submitted) -> None:
        event.stop()
        self.find(event.value)

    def find(self, text: str) -> int | None:
        """Scroll the output to the next line holding `text` (case-insensitive), wrapping; its index, or None."""
        self._flush()
        log = self.query_one(Log)
        lines = [str(x) for x in log.lines]
        needle = text.lower()
        if not needle or not lines:
            return None
        n = len(lines)
        for step in range(1, n + 1):
            i = (self._match + step) % n
            if needle in lines[i].lower():
                self._match = i
                log.auto_scroll = False
                log.scroll_to(y=max(0, i - 1), animate=False)
                return i
        self.app.notify(f"'{clean_line(text)[:40]}' is not in the output", severity="warning", markup=False,
                        timeout=3)
        return None

    def on_key(self, event) -> None:
        box = self.query_one("#runbook-search", Input)
        if event.key == "escape" and box.has_focus:
            event.stop()
            box.display = False
            self.query_one(Log).auto_scroll = True
            self.query_one(OptionList).focus()

    def selected(self) -> int | None:
        return self.query_one(OptionList).highlighted

    @on(OptionList.OptionSelected, "#runbook-steps")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.post_message(self.Run(int(event.option.id or 0)))

    def action_run(self, n: int) -> None:
        if 1 <= n <= len(self.titles):
            self.query_one(OptionList).highlighted = n - 1
            self.post_message(self.Run(n - 1))

    def action_run_next(self) -> None:
        nxt = next((i for i, s in enumerate(self.states) if s in ("pending",)), None)
        if nxt is not None:
            self.query_one(OptionList).highlighted = nxt
            self.post_message(self.Run(nxt))

    def action_run_selected(self) -> None:
        i = self.selected()
        if i is not None:
            self.post_message(self.Run(i))

    def action_cancel(self) -> None:
        self.post_message(self.Cancel())

    def action_zoom(self) -> None:
        self.toggle_class("-zoomed")
        self.screen.set_class(self.has_class("-zoomed"), "-runbook-zoomed")

    def action_close(self) -> None:
        self.remove_class("-zoomed")
        self.screen.remove_class("-runbook-zoomed")
        self.display = False
        self.post_message(self.Closed())
