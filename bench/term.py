"""A program in a real pseudo-terminal, its output read continuously and timestamped, optionally emulated by pyte."""

from __future__ import annotations

import fcntl
import os
import queue
import re
import select
import signal
import struct
import subprocess
import termios
import threading
import time
from typing import Callable

import psutil

COLS, ROWS = 120, 40

# One observation: (time the bytes arrived, pod name, (ready, total, restarts)).
Observation = tuple[float, str, tuple[int, int, int]]


class PtyProcess:
    """Runs argv with a pty as its controlling terminal; a thread reads everything it writes.

    `on_output(t, data)` runs in a second thread, so a slow consumer (the emulator) never delays the
    timestamps: `t` is taken the moment `os.read` returns.
    """

    def __init__(self, argv: list[str], *, env: dict[str, str] | None = None, cols: int = COLS, rows: int = ROWS,
                 on_output: Callable[[float, bytes], None] | None = None):
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        full_env = dict(os.environ)
        full_env.update(env or {})
        full_env["TERM"] = "xterm-256color"
        full_env.pop("COLUMNS", None)
        full_env.pop("LINES", None)
        self.started = time.time()
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=full_env,
                                     start_new_session=True, preexec_fn=_take_controlling_tty, close_fds=True)
        os.close(slave)
        self.bytes_total = 0
        self.first_output: float | None = None
        self._lock = threading.Lock()
        self._chunks: queue.SimpleQueue = queue.SimpleQueue()
        self._on_output = on_output
        self._reader = threading.Thread(target=self._read, daemon=True, name="pty-read")
        self._feeder = threading.Thread(target=self._feed, daemon=True, name="pty-feed")
        self._reader.start()
        self._feeder.start()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _read(self) -> None:
        while True:
            try:
                r, _, _ = select.select([self.master], [], [], 0.5)
                if not r:
                    if self.proc.poll() is not None:
                        break
                    continue
                data = os.read(self.master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            t = time.time()
            with self._lock:
                self.bytes_total += len(data)
                if self.first_output is None:
                    self.first_output = t
            self._chunks.put((t, data))
        self._chunks.put(None)

    def _feed(self) -> None:
        while True:
            item = self._chunks.get()
            if item is None:
                return
            if self._on_output is not None:
                try:
                    self._on_output(*item)
                except Exception as e:  # a parse error must not stop the reading
                    print(f"bench: output handler: {e!r}")

    def bytes_written(self) -> int:
        with self._lock:
            return self.bytes_total

    def send(self, data: bytes) -> None:
        try:
            os.write(self.master, data)
        except OSError:
            pass

    def stop(self, quit_keys: bytes | None = b"q", grace: float = 3.0) -> None:
        if self.proc.poll() is None and quit_keys:
            self.send(quit_keys)
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                pass
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if self.proc.poll() is not None:
                break
            try:
                os.killpg(self.proc.pid, sig)  # its own session: the group is the tool and its children only
            except ProcessLookupError:
                break
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                pass
        self._reader.join(2)
        self._feeder.join(5)
        try:
            os.close(self.master)
        except OSError:
            pass


def _take_controlling_tty() -> None:
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class ProcessMeter:
    """CPU seconds (user+sys, including reaped children) and peak RSS of a process tree."""

    def __init__(self, pid: int, sample_every: float = 0.2):
        self.proc = psutil.Process(pid)
        self._peak_tree = 0
        # short-lived children (watch's kubectl runs) are gone by the end: sample while they live
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample, args=(sample_every,), daemon=True, name="rss")
        self._sampler.start()

    def _sample(self, every: float) -> None:
        while not self._stop.wait(every):
            self.peak_rss_mb()

    def close(self) -> None:
        self._stop.set()

    def cpu_seconds(self) -> float:
        total = 0.0
        try:
            procs = [self.proc] + self.proc.children(recursive=True)
        except psutil.NoSuchProcess:
            return 0.0
        for p in procs:
            try:
                ct = p.cpu_times()
                total += ct.user + ct.system + ct.children_user + ct.children_system
            except psutil.NoSuchProcess:
                pass
        return total

    def peak_rss_mb(self) -> float:
        """VmHWM of the tree's largest process (the tools here are one process, or a dispatcher and one child)."""
        best = 0
        try:
            procs = [self.proc] + self.proc.children(recursive=True)
        except psutil.NoSuchProcess:
            procs = []
        for p in procs:
            try:
                with open(f"/proc/{p.pid}/status") as f:
                    for line in f:
                        if line.startswith("VmHWM:"):
                            best = max(best, int(line.split()[1]))
            except OSError:
                pass
        self._peak_tree = max(self._peak_tree, best)
        return self._peak_tree / 1024.0


class ScreenWatcher:
    """Emulates the terminal (pyte) and reports pod rows and pod counts as they appear on screen.

    `row_re` finds a pod row in one screen line: groups name, ready, total, restarts.
    """

    def __init__(self, row_re: re.Pattern, *, count_re: re.Pattern | None = None, cols: int = COLS,
                 rows: int = ROWS):
        import pyte

        self.screen = pyte.Screen(cols, rows)
        self.stream = pyte.ByteStream(self.screen)
        self.row_re = row_re
        self.count_re = count_re
        self.lock = threading.Lock()
        self.observations: list[Observation] = []
        self.shown: dict[str, tuple[int, int, int]] = {}
        self.max_count = 0
        self.count_times: dict[int, float] = {}  # count -> first time it was on screen
        self.frames = 0
        self._rows: dict[int, tuple[str, tuple[int, int, int]]] = {}  # screen line -> pod row it shows

    def __call__(self, t: float, data: bytes) -> None:
        self.stream.feed(data)
        scr = self.screen
        dirty = sorted(scr.dirty)
        scr.dirty.clear()
        if not dirty:
            return
        cols = scr.columns
        counts: list[int] = []
        rows = self._rows
        for y in dirty:
            if y >= scr.lines:
                continue
            row = scr.buffer[y]
            line = "".join(row[x].data for x in range(cols))
            m = self.row_re.search(line)
            if m:
                rows[y] = (m.group("name"), (int(m.group("ready")), int(m.group("total")), int(m.group("restarts"))))
            else:
                rows.pop(y, None)
            if self.count_re is not None:
                for cm in self.count_re.finditer(line):
                    counts.append(int(cm.group(1).replace(",", "")))
        # Every pod row on screen is observed at every output, changed or not: a screen that still shows
        # a state (a refresh that redrew nothing for the row) shows it now.
        obs: list[Observation] = [(t, name, st) for name, st in rows.values()]
        with self.lock:
            self.frames += 1
            self.observations.extend(obs)
            for name, st in rows.values():
                self.shown[name] = st
            for c in counts:
                if c not in self.count_times:
                    self.count_times[c] = t
                self.max_count = max(self.max_count, c)

    def text(self) -> str:
        return "\n".join(self.screen.display)


class LineWatcher:
    """For tools that print one line per event (`kubectl get pods -w`): every line is an observation."""

    def __init__(self, row_re: re.Pattern):
        self.row_re = row_re
        self.lock = threading.Lock()
        self.observations: list[Observation] = []
        self.lines = 0
        self.target_lines: int | None = None  # when set, the time the output reached that many lines
        self.target_time: float | None = None
        self._partial = b""

    def __call__(self, t: float, data: bytes) -> None:
        buf = self._partial + data
        parts = buf.split(b"\n")
        self._partial = parts.pop()
        obs = []
        for raw in parts:
            line = raw.decode("utf-8", "replace")
            m = self.row_re.search(line)
            if m:
                obs.append((t, m.group("name"),
                            (int(m.group("ready")), int(m.group("total")), int(m.group("restarts")))))
        with self.lock:
            self.lines += len(parts)
            self.observations.extend(obs)
            if self.target_time is None and self.target_lines is not None and self.lines >= self.target_lines:
                self.target_time = t
