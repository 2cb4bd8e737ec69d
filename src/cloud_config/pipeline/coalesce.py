"""Coalescing work per key: at most one run going and one waiting, however many requests arrive.

Each key is idle, running, or running with a run pending. A request while running only marks
the pending run; the pending run starts when the current one ends and, because a run reads the
newest state itself (e.g. fetches the chain head), it covers every request that came meanwhile.
Each run is told when the newest request it covers was made (`time.monotonic_ns()`), so work
shared by many keys (one chain fetch for a pipeline's nodes) can tell which results are new enough.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from enum import StrEnum
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


class State(StrEnum):
    """Where a key's work stands."""

    IDLE = "idle"
    RUNNING = "running"
    PENDING = "running+pending"


class Coalescer(Generic[K]):
    """Runs `work(key, asked)` on a thread per key; see the module docstring."""

    def __init__(self, work: Callable[[K, int], None]) -> None:
        self._work = work
        self._lock = threading.Condition()
        self._states: dict[K, State] = {}
        self._asked: dict[K, int] = {}
        self._threads: dict[K, threading.Thread] = {}
        self._closed = False

    def submit(self, key: K, asked: int | None = None) -> State:
        """Ask for a run of `key` (`asked`: when it was asked for, default now, `time.monotonic_ns()`;
        one value for the keys of one event); returns the state it is now in."""
        with self._lock:
            if self._closed:
                raise RuntimeError("coalescer is closed")
            asked = time.monotonic_ns() if asked is None else asked
            self._asked[key] = max(asked, self._asked.get(key, asked))
            state = self._states.get(key, State.IDLE)
            if state is State.IDLE:
                self._states[key] = State.RUNNING
                thread = threading.Thread(target=self._loop, args=(key,), name=f"run-{key}", daemon=True)
                self._threads[key] = thread
                thread.start()
            else:
                self._states[key] = State.PENDING
            return self._states[key]

    def state(self, key: K) -> State:
        """The current state of `key`."""
        with self._lock:
            return self._states.get(key, State.IDLE)

    def _loop(self, key: K) -> None:
        while True:
            with self._lock:
                asked = self._asked[key]  # a request from now on makes the run pending
            try:
                self._work(key, asked)
            finally:
                with self._lock:
                    again = self._states.get(key) is State.PENDING and not self._closed
                    self._states[key] = State.RUNNING if again else State.IDLE
                    if not again:
                        self._threads.pop(key, None)
                    self._lock.notify_all()
            if not again:
                return

    def wait_idle(self, timeout: float) -> bool:
        """Block until every key is idle (True) or the timeout passes (False)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while any(s is not State.IDLE for s in self._states.values()):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._lock.wait(left)
            return True

    def close(self, timeout: float) -> bool:
        """Accept no more work, drop pending runs, and wait for running ones (True if all ended)."""
        with self._lock:
            self._closed = True
            for key, state in self._states.items():
                if state is State.PENDING:
                    self._states[key] = State.RUNNING
        return self.wait_idle(timeout)
