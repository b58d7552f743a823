"""Account emails sent after the answer: one worker thread behind a queue.

The subscribe and sign-in forms answer before any mail is sent and before the address is even
looked up, so the answer and its timing are the same for known and unknown addresses (the
account enumeration a mail server's few milliseconds would otherwise give away); a job starts
`START_AFTER_S` after its request, so its work does not slow that request's answer either. A
job that fails is tried again after `RETRY_AFTER_S`, then given up with a warning in the log;
the job itself undoes what it stored (a pending reader nobody can confirm).

The queue lives in memory: the server waits for it when it stops, but a job still waiting when
the process dies is lost, and the reader asks for a new link, as after a lost email.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence

__all__ = ["Outbox"]

RETRY_AFTER_S = (5.0, 30.0)  # waits before the second and the third try
# A job starts this long after it was queued: by then its request has answered, so the work a
# known address causes (the lookup's hit, the mail) never overlaps that request's own answer.
START_AFTER_S = 0.25
MAX_WAITING = 1_000  # jobs queued at most; past it a request's job is dropped (and logged)
log = logging.getLogger("paperboy.readers")

Job = Callable[[], None]


class Outbox:
    """Runs queued jobs one at a time in a daemon thread, started on the first `put`; a retry
    waits in a timer, not in the worker, so one failing server does not hold up the rest."""

    def __init__(self, *, retry_after_s: Sequence[float] = RETRY_AFTER_S,
                 start_after_s: float = START_AFTER_S, max_waiting: int = MAX_WAITING) -> None:
        self.retry_after_s = tuple(retry_after_s)
        self.start_after_s = start_after_s
        self._jobs: queue.Queue[tuple[str, Job, int, float]] = queue.Queue(maxsize=max_waiting)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._delayed = 0  # retries waiting in their timers

    def put(self, name: str, job: Job) -> bool:
        """Queue `job` (`name` says what it is, for the log); False when the queue is full and
        the job is dropped."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name="paperboy-outbox",
                                                daemon=True)
                self._thread.start()
        return self._put(name, job, 0)

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait until every queued job has run or been given up, retries included; False on
        timeout."""
        deadline = time.monotonic() + timeout
        while self._jobs.unfinished_tasks or self._delayed:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def _put(self, name: str, job: Job, attempt: int) -> bool:
        not_before = time.monotonic() + (self.start_after_s if attempt == 0 else 0.0)
        try:
            self._jobs.put_nowait((name, job, attempt, not_before))
        except queue.Full:
            log.warning("the outbox is full: %s is dropped", name)
            return False
        return True

    def _work(self) -> None:
        while True:
            name, job, attempt, not_before = self._jobs.get()
            try:
                time.sleep(max(0.0, not_before - time.monotonic()))
                self._run(name, job, attempt)
            finally:
                self._jobs.task_done()

    def _run(self, name: str, job: Job, attempt: int) -> None:
        try:
            job()
        except Exception as exc:  # noqa: BLE001 - a job's failure is logged, not raised
            if attempt >= len(self.retry_after_s):
                log.warning("%s failed %d time(s) and is given up: %s", name, attempt + 1, exc)
                return
            wait = self.retry_after_s[attempt]
            log.info("%s failed (%s); trying again in %.0f s", name, exc, wait)
            with self._lock:
                self._delayed += 1
            timer = threading.Timer(wait, self._retry, (name, job, attempt + 1))
            timer.daemon = True
            timer.start()

    def _retry(self, name: str, job: Job, attempt: int) -> None:
        try:
            self._put(name, job, attempt)
        finally:
            with self._lock:
                self._delayed -= 1
