"""A process that imported rasoat once and forks a `rasoat` command at each order.

`python -m tests.chaos.zygote PORT` reads orders on stdin, one JSON line each: ``{"id": N,
"args": [...], "env": {...}}``. For each it forks a child that connects to 127.0.0.1:PORT,
says its id and pid on that connection, makes it its stdout and stderr, adds ``env`` to its
environment and runs ``bot.cli.main(args)``, the function the `rasoat` command runs, then
exits with its code. The zygote reaps its children and writes ``{"exited": PID, "code": C}``
on its stdout for each (-9 for one killed by SIGKILL). When its stdin closes (the test is
over, or died) it kills the children still running, and a child dies with the zygote, so
none is left listening on the machine.

Why: importing rasoat takes seconds on a busy machine, a fork milliseconds, so a kill test
can start a process right after a kill and kill it again before the imports of a new one
would be done. A child has imported what `rasoat` imports and started no thread and no
event loop: it is the process the command would be, minus the wait.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib
import json
import os
import selectors
import signal
import socket
import sys
from typing import NoReturn

import bot.channels.registry
import bot.channels.zalo_oa
import bot.channels.zalo_oa_webhook
import bot.cli
import bot.runtime
import bot.service

IMPORTED = (bot.cli, bot.service, bot.runtime, bot.channels.registry, bot.channels.zalo_oa)
# bot.cli imports a command's module when the command runs: a child has them all already.
COMMANDS = [importlib.import_module(spec.split(":")[0]) for spec in bot.cli.COMMANDS.values()]
PR_SET_PDEATHSIG = 1


def child(order: dict[str, object], port: int) -> NoReturn:
    """In the forked child: runs the order, then exits with its code (never returns: the
    SystemExit unwinds the zygote's loop in this process only)."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(f"{order['id']} {os.getpid()}\n".encode())
        os.dup2(sock.fileno(), 1)
        os.dup2(sock.fileno(), 2)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
    env = order.get("env") or {}
    args = order.get("args") or []
    assert isinstance(env, dict) and isinstance(args, list)
    os.environ.update({str(k): str(v) for k, v in env.items()})
    sys.exit(bot.cli.main([str(arg) for arg in args]))


def reap(children: set[int]) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        children.discard(pid)
        print(json.dumps({"exited": pid, "code": os.waitstatus_to_exitcode(status)}), flush=True)


def die_with_parent() -> None:
    """SIGKILL when the zygote dies (Linux's PR_SET_PDEATHSIG; elsewhere nothing)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def main() -> None:
    port = int(sys.argv[1])
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    selector = selectors.DefaultSelector()
    selector.register(0, selectors.EVENT_READ)
    selector.register(wake_read, selectors.EVENT_READ)
    pending = b""
    children: set[int] = set()
    print(json.dumps({"ready": os.getpid()}), flush=True)
    while True:
        for key, _ in selector.select():
            if key.fd == wake_read:
                os.read(wake_read, 512)
                reap(children)
                continue
            data = os.read(0, 65536)
            if not data:
                for pid in children:
                    os.kill(pid, signal.SIGKILL)
                return
            pending += data
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                sys.stdout.flush()
                pid = os.fork()
                if pid == 0:
                    signal.set_wakeup_fd(-1)
                    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                    die_with_parent()
                    selector.close()
                    os.close(wake_read)
                    os.close(wake_write)
                    child(json.loads(line), port)
                children.add(pid)


if __name__ == "__main__":
    main()
