"""WSGI entry point for gunicorn."""

import gc
import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clearinghouse.settings")
django.setup(set_prefix=False)  # what get_wsgi_application() does, with the hub's handler after it

from django.urls import get_resolver  # noqa: E402

from clearinghouse.handler import HubWSGIHandler  # noqa: E402

application = HubWSGIHandler()
# Load the views (and what they import) now rather than on the first request, then freeze: what a
# worker holds from here on (modules, settings, URL patterns, the model registry) lives as long as
# the process, and frozen objects are left out of the collector's full passes. Without this each
# full pass walks all of them again: over 100 ms of CPU every few bulk requests (a batch of 500
# SDRs allocates enough objects to trigger one every two or three requests).
get_resolver().url_patterns  # noqa: B018
gc.collect()
gc.freeze()
