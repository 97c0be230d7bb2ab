"""`:` the k9s-style command bar: `:pods`, `:events`, `:metrics`, `:dns`, `:progress`, `:ns NAME`, `:ctx NAME`,
`:rollout NAME`, `:q`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import Input

COMMANDS = ("pods", "events", "metrics", "dns", "progress", "ns", "ctx", "context", "rollout", "q", "quit", "help")


@dataclass(frozen=True)
class Command:
    verb: str
    arg: str | None


def parse_command(text: str) -> Command | str:
    """A Command, or the sentence saying what is wrong with `text`."""
    text = text.strip().lstrip(":").strip()
    if not text:
        return "empty command"
    verb, _, arg = text.partition(" ")
    verb = verb.lower()
    arg = arg.strip() or None
    aliases = {"po": "pods", "pod": "pods", "ev": "events", "event": "events", "namespace": "ns",
               "context": "ctx", "ro": "rollout", "quit": "q", "q!": "q", "compare": "metrics", "canary": "metrics",
               "endpoints": "dns", "network": "dns", "svc": "dns", "services": "dns", "steps": "progress",
               "strip": "progress"}
    verb = aliases.get(verb, verb)
    if verb not in COMMANDS:
        return (f"unknown command :{verb} (try :pods, :events, :metrics, :dns, :progress, :ns NAME, :ctx NAME, "
                ":rollout NAME, :q)")
    if verb in ("ns", "ctx") and not arg:
        return f":{verb} needs a name"
    if arg is not None and verb in ("ns", "ctx", "rollout"):
        # checked here, so a bad name is refused in place and never reaches a URL path
        from tui.kube.names import InvalidName, check_app, check_context, check_namespace

        check = {"ns": check_namespace, "ctx": check_context, "rollout": check_app}[verb]
        try:
            check(arg, f":{verb}")
        except InvalidName as e:
            return str(e)
    return Command(verb, arg)


class CommandBar(Input):
    """Hidden until `:`; enter runs, esc closes."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", "Close", show=False)]

    class Run(Message):
        def __init__(self, command: Command) -> None:
            super().__init__()
            self.command = command

    class Invalid(Message):
        def __init__(self, why: str) -> None:
            super().__init__()
            self.why = why

    class Closed(Message):
        pass

    def __init__(self) -> None:
        super().__init__(placeholder=":pods  :events  :metrics  :dns  :progress  :ns NAME  :ctx NAME  :rollout NAME  :q",
                         id="command-bar")
        self.cursor_blink = False  # deterministic screenshots

    def open(self) -> None:
        self.value = ""
        self.display = True
        self.focus()

    def action_close(self) -> None:
        self.value = ""
        self.display = False
        self.post_message(self.Closed())

    async def action_submit(self) -> None:
        result = parse_command(self.value)
        self.value = ""
        self.display = False
        if isinstance(result, Command):
            self.post_message(self.Run(result))
        else:
            self.post_message(self.Invalid(result))
        self.post_message(self.Closed())
