"""Several API server processes on one port, with the connections spread evenly among them.

``uvicorn --workers N`` binds one listening socket in the supervisor and lets every worker accept
from it. A worker whose event loop wakes first accepts every connection that is waiting, so a
pool of keep-alive clients that connects at once lands on one process: measured with 32 clients
and ``--workers 2``, all 32 connections were served by one worker while the other idled.

Here each worker binds its **own** socket with ``SO_REUSEPORT`` (Linux): the kernel then assigns
each new connection to one of the listening sockets by a hash of its addresses and ports, so
connections spread over the workers whoever is awake. The supervisor (:func:`serve_workers`)

* checks the port can be bound before starting anything (a clear error, not N tracebacks);
* restarts a worker that dies, unless workers keep dying right after they start (then it stops
  them all and exits with an error: a crash at start would otherwise loop forever);
* on SIGINT or SIGTERM stops every worker (uvicorn's graceful shutdown: SIGTERM, then SIGKILL
  after ``grace_s``) and returns; killed outright, it takes the workers with it (each asks the
  kernel for SIGTERM when its parent dies) -- no worker outlives it.

Where ``SO_REUSEPORT`` is missing or does not balance (macOS, Windows),
:func:`reuse_port_balances` is false and the caller falls back to uvicorn's own workers.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import socket
import sys
import time
from multiprocessing.process import BaseProcess
from typing import Any

__all__ = ["serve_workers", "reuse_port_balances", "BACKLOG"]

log = logging.getLogger(__name__)

BACKLOG = 2048
"""Listen backlog of each worker's socket."""

_FAST_DEATH_S = 5.0  # a worker that dies sooner than this after its start counts as a crash loop
_MAX_FAST_DEATHS = 3


def reuse_port_balances() -> bool:
    """True where ``SO_REUSEPORT`` spreads connections over the sockets bound to a port (Linux)."""
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def _socket(host: str, port: int, *, listen: bool) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        if listen:
            sock.listen(BACKLOG)
    except BaseException:
        sock.close()
        raise
    return sock


def _die_with(supervisor: int) -> None:
    """Have the kernel send this process SIGTERM when its supervisor dies, even by SIGKILL
    (``PR_SET_PDEATHSIG``); exit now if it is already gone."""
    import ctypes

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError) as exc:  # pragma: no cover - Linux has it
        log.warning("cannot tie the API worker to its supervisor: %s", exc)
    if os.getppid() != supervisor:
        os._exit(0)


def _worker(app: str, host: str, port: int, log_level: str, supervisor: int) -> None:  # pragma: no cover
    import uvicorn

    _die_with(supervisor)
    sock = _socket(host, port, listen=True)
    config = uvicorn.Config(app, factory=True, log_level=log_level)
    uvicorn.Server(config).run(sockets=[sock])


def serve_workers(
    app: str, host: str, port: int, workers: int, *, log_level: str = "warning", grace_s: float = 30.0
) -> int:
    """Serve the app factory ``app`` (``"module:function"``) from ``workers`` processes on
    ``host:port`` until SIGINT/SIGTERM; returns the exit status (0 after a signal, 1 when the
    workers kept crashing). The factory reads its settings from the environment (see
    :func:`mevgraph.api.app.app_from_env`); set them before calling.

    Raises:
        OSError: the port cannot be bound (in use by a socket without ``SO_REUSEPORT``, or by
            another user).
    """
    if workers < 1:
        raise ValueError("workers must be >= 1")
    _socket(host, port, listen=False).close()  # fail here, once, if the port is taken
    ctx = multiprocessing.get_context("spawn")
    procs: list[BaseProcess] = []
    started: dict[int, float] = {}
    stopping = False

    def start() -> BaseProcess:
        p = ctx.Process(
            target=_worker, args=(app, host, port, log_level, os.getpid()), name="mevgraph-api-worker"
        )
        p.start()
        started[id(p)] = time.monotonic()
        return p

    def stop(signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True

    previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    status = 0
    fast_deaths = 0
    try:
        procs = [start() for _ in range(workers)]
        while not stopping:
            time.sleep(0.2)
            for i, p in enumerate(procs):
                if p.is_alive() or stopping:
                    continue
                lived = time.monotonic() - started.pop(id(p), 0.0)
                fast_deaths = fast_deaths + 1 if lived < _FAST_DEATH_S else 0
                log.error("API worker %s exited with %s after %.1f s", p.pid, p.exitcode, lived)
                if fast_deaths >= _MAX_FAST_DEATHS:
                    log.error("API workers keep exiting right after they start; stopping")
                    stopping, status = True, 1
                    break
                procs[i] = start()
    finally:
        for p in procs:
            if p.is_alive() and p.pid is not None:
                os.kill(p.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        for p in procs:
            p.join(max(0.0, deadline - time.monotonic()))
            if p.is_alive():
                p.kill()
                p.join()
        for s, handler in previous.items():
            signal.signal(s, handler)
    return status
