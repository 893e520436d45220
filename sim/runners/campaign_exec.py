"""Where a campaign's cases run (issue 13 item 5): one interface, a local backend and a Ray backend.

A :class:`Backend` maps a picklable, module-level function over picklable items and yields the results **as they
finish** (completion order, not item order): the campaign writes its manifest line by line as cases finish, so an
interrupted campaign keeps every case that finished, even one after a slow case. Callers that need item order
key the results themselves (a manifest row carries its case id).

- :class:`LocalBackend`: in-process for ``workers=1`` (then completion order is item order), a process pool of
  ``workers`` processes otherwise.
- :class:`RayBackend`: ``ray.init(address=...)`` joins an existing cluster (``ray start --head`` on one node,
  ``ray start --address HEAD:PORT`` on the others); without an address it starts a private local one with
  ``workers`` CPUs. Each item is a ``ray.remote`` task of one CPU; results come back with ``ray.wait`` as tasks
  finish. The workers import this code from their own installation: every node must run the same checkout
  (``pip install -e '.[cluster]'``), which a probe task checks before the first case (no ``runtime_env``
  upload: a local cluster inherits the driver's environment and import path).

Errors: a task that fails raises :class:`TaskFailed` naming the item (for a campaign, its case id); a Ray
backend asked for without ray installed, or with an address that cannot be reached within ``connect_timeout_s``,
raises :class:`~drone_perception.errors.ConfigError` with the fix or the address.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import IO, Any, Protocol, TypeVar

from drone_perception.errors import ConfigError, DronePerceptionError

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

BACKENDS = ("local", "ray")
#: How long a Ray backend waits for a cluster's address to answer (TCP, then ``ray.init``) before giving up.
DEFAULT_CONNECT_TIMEOUT_S = 30.0
_INSTALL_HINT = "pip install -e '.[cluster]'"


class TaskFailed(DronePerceptionError, RuntimeError):
    """One item's task raised (or its worker died); the message names the item and the cause."""


class Backend(Protocol):
    """Runs ``fn`` over items somewhere; see the module docstring for the order and error contract."""

    #: Tasks that can run at once (processes, or the Ray cluster's CPUs); for the progress line.
    workers: int
    #: ``local`` or ``ray``.
    name: str

    def imap(self, fn: Callable[[T], R], items: Sequence[T], *,
             label: Callable[[T], str] = repr) -> Iterator[R]:
        """``fn(item)`` for every item, yielded in completion order. A failing task raises :class:`TaskFailed`
        whose message is ``label(item)`` and the cause; the tasks not yet finished are cancelled."""
        ...

    def close(self) -> None:
        """Release processes or the cluster connection (idempotent)."""
        ...


class LocalBackend:
    """In-process for ``workers=1``; a pool of ``workers`` processes otherwise (each task one case)."""

    name = "local"

    def __init__(self, workers: int = 1) -> None:
        if workers < 1:
            raise ConfigError(f"workers must be >= 1, got {workers}")
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None

    def imap(self, fn: Callable[[T], R], items: Sequence[T], *,
             label: Callable[[T], str] = repr) -> Iterator[R]:
        if self.workers == 1:
            for item in items:
                try:
                    result = fn(item)
                except Exception as exc:
                    raise TaskFailed(f"{label(item)} failed: {type(exc).__name__}: {exc}") from exc
                yield result
            return
        if self._pool is None:
            self._pool = ProcessPoolExecutor(max_workers=self.workers)
        pending: dict[Future[R], T] = {self._pool.submit(fn, item): item for item in items}
        try:
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    item = pending.pop(fut)
                    error = fut.exception()
                    if error is not None:
                        raise TaskFailed(f"{label(item)} failed: {type(error).__name__}: {error}") from error
                    yield fut.result()
        finally:
            for fut in pending:  # an error or an abandoned iterator: queued cases do not run
                fut.cancel()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def _probe_tcp(address: str, timeout_s: float) -> None:
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ConfigError(f"--address must be HOST:PORT (the Ray head's GCS port, 6379 by default), got {address!r}")
    try:
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise ConfigError(f"cannot reach the Ray cluster at {address}: {exc.strerror or exc} (is `ray start --head "
                          f"--port={port}` running there, and the port open?)") from None


def _worker_origin() -> tuple[str, str | None]:
    """On a worker: where ``sim`` is imported from and the checkout's commit (the same-checkout check)."""
    import sim
    from drone_perception.version import source_commit

    return os.path.dirname(os.path.abspath(sim.__file__)), source_commit()


class RayBackend:
    """Tasks on a Ray cluster: an existing one at ``address`` (HOST:PORT of its head), or a private local one
    with ``workers`` CPUs when ``address`` is None. ``workers`` is ignored with an address: the cluster's CPUs
    decide how many cases run at once. Raising ``connect_timeout_s`` tolerates a slower head; lowering it
    fails faster on a wrong address."""

    name = "ray"

    def __init__(self, workers: int = 1, address: str | None = None, *,
                 connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S) -> None:
        if workers < 1:
            raise ConfigError(f"workers must be >= 1, got {workers}")
        try:
            import ray
        except ImportError:
            raise ConfigError(f"--backend ray needs ray, which is not installed: {_INSTALL_HINT}") from None
        self._ray = ray
        self.address = address
        # no usage report to anyscale.com: a campaign talks to its own cluster only
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        if address is not None:
            _probe_tcp(address, connect_timeout_s)
            kwargs: dict[str, Any] = {"address": address}
        else:  # "local", not None: None would join a cluster that `ray start` left on this machine
            kwargs = {"address": "local", "num_cpus": workers, "include_dashboard": False}
        self._init(kwargs, connect_timeout_s)
        self.workers = max(1, int(ray.cluster_resources().get("CPU", workers)))
        self._remote: dict[Callable[..., Any], Any] = {}
        self._check_same_checkout()
        log.info("ray backend: %s, %d CPUs", address or "local cluster", self.workers)

    def _init(self, kwargs: dict[str, Any], timeout_s: float) -> None:
        where = kwargs["address"] if kwargs["address"] != "local" else "a local Ray cluster"
        if kwargs["address"] == "local":  # starts its own processes: nothing to wait for
            try:
                self._ray.init(logging_level=logging.WARNING, log_to_driver=False, **kwargs)
            except Exception as exc:
                raise ConfigError(f"cannot start {where}: {type(exc).__name__}: {exc}") from exc
            return
        # ray.init retries a silent GCS for minutes; a thread bounds it (a hung init is abandoned, daemon)
        box: dict[str, BaseException] = {}

        def init() -> None:
            try:
                self._ray.init(logging_level=logging.WARNING, log_to_driver=False, **kwargs)
            except BaseException as exc:
                box["error"] = exc

        thread = threading.Thread(target=init, name="ray-init", daemon=True)
        thread.start()
        thread.join(timeout_s)
        if thread.is_alive():
            raise ConfigError(f"cannot connect to the Ray cluster at {where}: no Ray GCS answered within "
                              f"{timeout_s:.0f} s (is it a Ray head's GCS port, and the same ray version?)")
        if "error" in box:
            error = box["error"]
            cause = f"{error} {error.__cause__ or ''}"
            hint = (" (the cluster wants a token: set RAY_AUTH_MODE=token and RAY_AUTH_TOKEN, or ~/.ray/auth_token, "
                    "as on its head)") if "auth" in cause.lower() else ""
            raise ConfigError(f"cannot connect to the Ray cluster at {where}: {type(error).__name__}: {error}"
                              f"{hint}") from error

    def _check_same_checkout(self) -> None:
        from drone_perception.version import source_commit

        try:
            where, commit = self._ray.get(self._ray.remote(_worker_origin).remote(), timeout=120)
        except self._ray.exceptions.RayError as exc:
            raise ConfigError(f"the Ray workers cannot import this code ({exc}); install this checkout on every "
                              f"node: {_INSTALL_HINT}") from None
        mine = source_commit()
        if mine is not None and commit is not None and mine != commit:
            raise ConfigError(f"the Ray workers run commit {commit} ({where}), this checkout is {mine}: the cases "
                              "would not be the ones this campaign's ids name; check out the same commit on every node")

    def imap(self, fn: Callable[[T], R], items: Sequence[T], *,
             label: Callable[[T], str] = repr) -> Iterator[R]:
        ray = self._ray
        remote = self._remote.get(fn)
        if remote is None:
            remote = self._remote[fn] = ray.remote(num_cpus=1)(fn)
        # a bounded window (not every case at once): memory stays flat for big campaigns and a cancel is quick
        window = 4 * self.workers
        queue = list(items)
        queue.reverse()
        pending: dict[Any, T] = {}
        try:
            while queue or pending:
                while queue and len(pending) < window:
                    item = queue.pop()
                    pending[remote.remote(item)] = item
                ready, _ = ray.wait(list(pending), num_returns=1)
                for ref in ready:
                    item = pending.pop(ref)
                    try:
                        result = ray.get(ref)
                    except ray.exceptions.RayTaskError as exc:  # fn raised: show its own error, not Ray's wrapper
                        cause = exc.cause if exc.cause is not None else exc
                        raise TaskFailed(f"{label(item)} failed on the Ray cluster: {type(cause).__name__}: "
                                         f"{cause}") from exc
                    except ray.exceptions.RayError as exc:  # the worker or node died (after Ray's retries)
                        raise TaskFailed(f"{label(item)} failed on the Ray cluster: {type(exc).__name__}: "
                                         f"{exc}") from exc
                    yield result
        finally:
            for ref in pending:
                ray.cancel(ref)

    def close(self) -> None:
        if self._ray.is_initialized():
            self._ray.shutdown()


def make_backend(name: str, workers: int = 1, address: str | None = None) -> Backend:
    """``local`` or ``ray``; ``address`` (HOST:PORT of a Ray head) only with ``ray``."""
    if name == "local":
        if address is not None:
            raise ConfigError(f"--address {address} needs --backend ray (the local backend runs on this machine)")
        return LocalBackend(workers)
    if name == "ray":
        return RayBackend(workers, address)
    raise ConfigError(f"unknown backend {name!r}; one of {', '.join(BACKENDS)}")


class ProgressLine:
    """A campaign's progress on a stream (stderr): on a TTY one line redrawn in place (bar, count, rate, ETA),
    with failing cases printed above it; elsewhere (logs, CI) a line every 5 % and one per failing case.

    Called as ``progress(done, total, row)`` after each case (``run_campaign``'s ``progress``)."""

    def __init__(self, stream: IO[str] | None = None, *, tty: bool | None = None, label: str = "campaign") -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(tty if tty is not None else getattr(self.stream, "isatty", lambda: False)())
        self.label = label
        self._t0 = time.monotonic()
        self._first_done: int | None = None

    def __call__(self, done: int, total: int, row: dict[str, Any]) -> None:
        elapsed_s = max(time.monotonic() - self._t0, 1e-9)
        if self._first_done is None:  # cases resumed from the manifest do not count in the rate
            self._first_done = done - 1
        rate = (done - self._first_done) / elapsed_s
        failed = row.get("verdict", "pass") != "pass"
        flag = f"  FAIL {row['id']} ({row['scenario']}: {', '.join(row['failures'])})" if failed else ""
        if not self.tty:
            every = max(1, total // 20)
            if done % every == 0 or done == total or failed:
                print(f"{self.label}: {done}/{total} cases ({rate:.2f}/s){flag}", file=self.stream, flush=True)
            return
        if failed:
            self.stream.write(f"\r\x1b[K{self.label}: {flag.strip()}\n")
        eta_s = (total - done) / rate if rate > 0 else 0.0
        text = f" {done}/{total} cases {100 * done // max(total, 1):3d}% {rate:.2f}/s ETA {eta_s:.0f} s"
        width = max(10, min(40, shutil.get_terminal_size((80, 20)).columns - len(self.label) - len(text) - 6))
        filled = width * done // max(total, 1)
        self.stream.write(f"\r\x1b[K{self.label}: [{'#' * filled}{'.' * (width - filled)}]{text}")
        if done == total:
            self.stream.write("\n")
        self.stream.flush()


__all__ = ["BACKENDS", "DEFAULT_CONNECT_TIMEOUT_S", "Backend", "LocalBackend", "ProgressLine", "RayBackend",
           "TaskFailed", "make_backend"]
