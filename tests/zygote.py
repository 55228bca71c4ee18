"""A process that imports the heavy libraries once and forks one child per command the tests run.

Most CLI tests run ``python -m bench …`` as a real process (own pid, exit status, stdout and stderr),
and each such interpreter spends 3–8 s importing torch and CompressAI before doing 0.3 s of work.
This server pays the imports once per test run, for all pytest-xdist workers: it listens on a Unix
socket, forks one session per connected worker, and for each request a session forks a child that resets
the interpreter's per-run state (argv, environment, working folder, ``sys.path[0]``, warning
filters, signal handlers) and runs the module or code as ``python -m`` / ``python -c`` would.
Nothing of the project is imported before the fork, so each command imports ``bench`` afresh.

Tests of what a fresh interpreter imports, of the heap, of signals and of concurrent runs start
real interpreters instead (``subprocess`` directly).

``python tests/zygote.py SOCKET``: the socket appears at SOCKET (renamed into place once listening)
when the imports are done; the server removes it and exits once its last session has ended (or,
never connected to, once the process that started it has ended).
Protocol, per connection (one JSON object per line each way): request ``{"argv": ["-m", "bench", …] |
["-c", CODE, …], "cwd": …, "env": {…}, "stdout": PATH, "stderr": PATH, "timeout": seconds | null}`` →
reply ``{"returncode": int, "timed_out": bool}``.
"""

from __future__ import annotations

import atexit
import json
import os

STARTER = os.getppid()  # before the imports: whoever started this server may end while they run
import runpy
import select
import signal
import socket
import sys
import time
import traceback
import warnings

import matplotlib.figure  # noqa: F401  (not pyplot: the reports draw on Figure objects)

# The imports every command of the suite pays: torch (MS-SSIM, learned codecs), CompressAI and what it
# pulls in, the data and plotting libraries. Only third-party modules: the project is imported by each child.
import numpy  # noqa: F401
import pandas  # noqa: F401
import PIL.Image  # noqa: F401
import scipy.interpolate  # noqa: F401
import torch  # noqa: F401

try:
    if os.environ.get("ZYGOTE_COMPRESSAI") == "0":  # a server for commands that never load a learned codec
        raise ImportError
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import compressai
        import compressai.zoo  # noqa: F401
except ImportError:  # a machine without CompressAI: its tests skip; the others still gain torch
    pass


def _child(request: dict, connection: socket.socket) -> None:
    """Become the command: never returns."""
    code = 1
    try:
        connection.close()  # the command must not hold its session's connection
        os.setpgrp()  # a timeout kills the command and whatever it started, as a process group
        for signum in (signal.SIGTERM, signal.SIGPIPE):
            signal.signal(signum, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)  # as a fresh interpreter has them
        stdin = os.open(os.devnull, os.O_RDONLY)
        out = os.open(request["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        err = os.open(request["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(stdin, 0)
        os.dup2(out, 1)
        os.dup2(err, 2)
        os.environ.clear()
        os.environ.update(request["env"])
        os.chdir(request["cwd"])
        warnings.resetwarnings()
        for spec in filter(None, os.environ.get("PYTHONWARNINGS", "").split(",")):
            warnings._setoption(spec)
        argv = request["argv"]
        if argv[0] == "-m":
            sys.argv = [argv[1], *argv[2:]]
            sys.path[0] = os.getcwd()
            runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
        elif argv[0] == "-c":
            sys.argv = ["-c", *argv[2:]]
            sys.path[0] = ""
            code_object = compile(argv[1], "<string>", "exec")
            exec(code_object, {"__name__": "__main__", "__builtins__": __builtins__})  # noqa: S102 — what -c does
        else:
            raise ValueError(f"zygote runs -m MODULE or -c CODE, not {argv[0]!r}")
        code = 0
    except SystemExit as exc:
        if exc.code is None:
            code = 0
        elif isinstance(exc.code, int):
            code = exc.code
        else:
            print(exc.code, file=sys.stderr)
            code = 1
    except KeyboardInterrupt:
        code = 130
    except BaseException:  # noqa: BLE001 — what the interpreter prints for an uncaught exception
        traceback.print_exc()
        code = 1
    finally:
        try:
            atexit._run_exitfuncs()
        except BaseException:  # noqa: BLE001, S110 — its own errors are printed by it
            pass
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001, S110 — a closed stream: nothing left to flush
                pass
        os._exit(code)


def _wait(pid: int, timeout: float | None) -> tuple[int, bool]:
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, 0 if deadline is None else os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status), False
        if time.monotonic() > deadline:
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            os.waitpid(pid, 0)
            return -signal.SIGKILL, True
        time.sleep(0.01)


def _session(connection: socket.socket) -> None:
    """Serve one worker's requests, one at a time, until it disconnects: never returns."""
    with connection.makefile("r", encoding="utf-8") as requests, \
            connection.makefile("w", encoding="utf-8") as replies:
        for line in requests:
            if not line.strip():
                continue
            request = json.loads(line)
            pid = os.fork()
            if pid == 0:
                _child(request, connection)
            returncode, timed_out = _wait(pid, request.get("timeout"))
            replies.write(json.dumps({"returncode": returncode, "timed_out": timed_out}) + "\n")
            replies.flush()
    os._exit(0)


def _reap(sessions: set[int]) -> None:
    for pid in list(sessions):
        if os.waitpid(pid, os.WNOHANG)[0]:
            sessions.discard(pid)


def main(path: str) -> None:
    os.dup2(2, 1)  # stray prints of the server itself go to stderr
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    building = f"{path}.{os.getpid()}"
    listener.bind(building)
    listener.listen(16)
    os.rename(building, path)  # clients connect only once the imports are done and the socket listens
    sessions: set[int] = set()
    served = False
    try:  # started ahead of need: if no test connects before the starting worker ends, stop
        while sessions or not (served or os.getppid() != STARTER):
            readable, _, _ = select.select([listener], [], [], 0.05)
            if readable:
                connection, _ = listener.accept()
                pid = os.fork()
                if pid == 0:
                    listener.close()
                    _session(connection)
                connection.close()
                sessions.add(pid)
                served = True
            _reap(sessions)
    finally:
        os.unlink(path)  # later connections fail at once: the client starts a new server
        listener.close()  # (a connection still waiting in the backlog is reset: the client retries)


if __name__ == "__main__":
    main(sys.argv[1])
