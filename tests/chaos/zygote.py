"""A process that imported rasoat once and forks a `rasoat` command at each order.

`python -m tests.chaos.zygote PORT` reads orders on stdin, one JSON line each: ``{"id": N,
"args": [...], "env": {...}}``. For each it forks a child that connects to 127.0.0.1:PORT,
says its id and pid on that connection, makes it its stdout and stderr, adds ``env`` to its
environment and runs ``bot.cli.main(args)``, the function the `rasoat` command runs, then
exits with its code. The zygote reaps its children and writes ``{"exited": PID, "code": C}``
on its stdout for each (-9 for one killed by SIGKILL).

Why: importing rasoat takes seconds on a busy machine, a fork milliseconds, so a kill test
can start a process right after a kill and kill it again before the imports of a new one
would be done. A child has imported what `rasoat` imports and started no thread and no
event loop: it is the process the command would be, minus the wait.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import socket
import sys

import bot.channels.registry
import bot.channels.zalo_oa
import bot.channels.zalo_oa_webhook
import bot.cli
import bot.runtime
import bot.service

IMPORTED = (bot.cli, bot.service, bot.runtime, bot.channels.registry, bot.channels.zalo_oa)


def child(order: dict[str, object], port: int) -> None:
    """In the forked child: never returns."""
    code = 1
    try:
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
        assert isinstance(env, dict)
        os.environ.update({str(k): str(v) for k, v in env.items()})
        args = order.get("args") or []
        assert isinstance(args, list)
        code = bot.cli.main([str(arg) for arg in args])
    except SystemExit as end:
        code = end.code if isinstance(end.code, int) else 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def reap() -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        print(json.dumps({"exited": pid, "code": os.waitstatus_to_exitcode(status)}), flush=True)


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
    print(json.dumps({"ready": os.getpid()}), flush=True)
    while True:
        for key, _ in selector.select():
            if key.fd == wake_read:
                os.read(wake_read, 512)
                reap()
                continue
            data = os.read(0, 65536)
            if not data:
                return
            pending += data
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                sys.stdout.flush()
                if os.fork() == 0:
                    signal.set_wakeup_fd(-1)
                    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                    selector.close()
                    os.close(wake_read)
                    os.close(wake_write)
                    child(json.loads(line), port)


if __name__ == "__main__":
    main()
