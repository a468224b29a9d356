"""Enqueueing Celery tasks after commit, the same way in production and in embedded mode.

In production `.delay()` hands the task to a worker. In embedded mode (no broker) Celery would run
it inline, inside the request that wrote the data, so a task that waits on a partner would hold the
API answer: there, TASKS_IN_THREAD runs it in a background thread instead.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from django.conf import settings
from django.db import connection, transaction

logger = logging.getLogger(__name__)


def run_in_background(task: Any, *args: Any) -> None:
    """Start a task now: on a worker, or (embedded mode) in a daemon thread of this process."""
    if settings.TASKS_IN_THREAD:
        threading.Thread(target=_run, args=(task, args), daemon=True).start()
    else:
        task.delay(*args)


def enqueue_on_commit(task: Any, *args: Any) -> None:
    """Start a task once the current transaction commits (never for a rolled-back one).

    Robust: if the broker is down the caller's committed work stands; periodic sweeps pick up what
    the task would have done.
    """
    transaction.on_commit(lambda: run_in_background(task, *args), robust=True)


def _run(task: Any, args: tuple[Any, ...]) -> None:
    try:
        task.apply(args=args, throw=True)
    except Exception:
        logger.exception("background task %s failed; its periodic sweep retries", getattr(task, "name", task))
    finally:
        connection.close()
