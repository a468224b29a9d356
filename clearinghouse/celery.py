"""The Celery app. Settings come from Django's settings under the CELERY_ namespace."""

from __future__ import annotations

import os
from typing import Any

from celery import Celery
from celery.signals import task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clearinghouse.settings")

app = Celery("clearinghouse")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def _close_old_connections(sender: Any = None, **kwargs: Any) -> None:
    """Around each task on a worker, what Django does around each request: close the database
    connection if it is broken or older than CONN_MAX_AGE, keep it otherwise (CELERY_DB_REUSE_MAX
    stops Celery from closing it every time). Not for a task run eagerly inside a request or a
    test, whose connection is in use."""
    if sender is None or getattr(sender.request, "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()
