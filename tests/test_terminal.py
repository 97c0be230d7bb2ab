"""`lookout demo` in a real pseudo-terminal, as a user starts it: pods on screen, q quits, nothing left behind."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time

ANSI = re.compile(rb"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)|\x1b[()][0-9A-Za-z]|\x1b[=>78]")


def _spawn(args: list[str], cols: int, rows: int) -> tuple[subprocess.Popen, int]:
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    env = dict(os.environ, TERM="xterm-256color", HOME=os.environ.get("HOME", "/root"))
    env.pop("KUBECONFIG", None)
    proc = subprocess.Popen([sys.executable, "-m", "tui.cli", *args], stdin=slave, stdout=slave, stderr=slave,
                            env=env, start_new_session=True, close_fds=True)
    os.close(slave)
    return proc, master


def _read_until(master: int, pattern: bytes, timeout: float) -> tuple[bool, bytes]:
    buf = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r, _, _ = select.select([master], [], [], 0.1)
        if r:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            buf += chunk
            if pattern in ANSI.sub(b"", buf):
                return True, buf
    return False, buf


def _children_of(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(x) for x in out.split()]


def test_demo_in_a_real_terminal_shows_pods_and_quits_cleanly():
    proc, master = _spawn(["demo"], 80, 24)
    try:
        started = time.monotonic()
        ok, buf = _read_until(master, b"5 pods", timeout=30)
        assert ok, ANSI.sub(b"", buf)[-2000:].decode("utf-8", "replace")
        print(f"first data on the terminal after {time.monotonic() - started:.2f} s")
        children = _children_of(proc.pid)  # the demo cluster
        assert children, "lookout demo runs its cluster as a child process"
        os.write(master, b"q")
        assert proc.wait(timeout=15) == 0
        time.sleep(0.5)
        for pid in children:  # the demo cluster went with it
            assert not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split()[2] == "Z"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        os.close(master)


def test_app_exits_when_its_terminal_goes_away():
    """A dropped SSH session: the pty's master side closes; the app and its demo cluster must go."""
    proc, master = _spawn(["demo"], 80, 24)
    try:
        ok, buf = _read_until(master, b"5 pods", timeout=30)
        assert ok, ANSI.sub(b"", buf)[-2000:].decode("utf-8", "replace")
        children = _children_of(proc.pid)
        os.close(master)
        master = -1
        assert proc.wait(timeout=15) is not None
        time.sleep(1.0)
        for pid in children:
            assert not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split()[2] == "Z"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        if master >= 0:
            os.close(master)
