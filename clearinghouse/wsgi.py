"""WSGI entry point for gunicorn."""

import gc
import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clearinghouse.settings")
application = get_wsgi_application()
# Load the views (and what they import) now rather than on the first request, then freeze: what a
# worker holds from here on (modules, settings, URL patterns, the model registry) lives as long as
# the process, and frozen objects are left out of the collector's full passes. Without this each
# full pass walks all of them again: over 100 ms of CPU every few bulk requests (a batch of 500
# SDRs allocates enough objects to trigger one every two or three requests).
get_resolver().url_patterns  # noqa: B018
gc.collect()
gc.freeze()
