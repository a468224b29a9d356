"""The hub's WSGI handler: Django's, with the URL resolution of recent paths remembered.

Resolving a path walks the URL patterns level by level (admin, the API's include, each app's
include) and builds a match object at every level: about 6% of the CPU of a signed ping. Partners
call the same few paths over and over, so the handler keeps the last `RESOLVED_PATHS` matches by
path (for the URL configuration in force: a changed `ROOT_URLCONF` gets a resolver of its own, and
so entries of its own). A path that does not resolve is never remembered, and every request gets a
match object and keyword arguments of its own, as Django gives it, since middleware may change them.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from django.core.handlers.wsgi import WSGIHandler
from django.urls import get_resolver
from django.urls.resolvers import ResolverMatch, URLResolver

RESOLVED_PATHS = 2048


@lru_cache(maxsize=RESOLVED_PATHS)
def _resolved(resolver: URLResolver, path: str) -> ResolverMatch:
    return resolver.resolve(path)  # Resolver404 propagates and is not cached


def _own_copy(match: ResolverMatch) -> ResolverMatch:
    copy = object.__new__(ResolverMatch)
    copy.__dict__.update(match.__dict__)
    copy.args = tuple(match.args)
    copy.kwargs = dict(match.kwargs)
    copy.captured_kwargs = dict(match.captured_kwargs) if match.captured_kwargs else match.captured_kwargs
    return copy


class HubWSGIHandler(WSGIHandler):
    def resolve_request(self, request: Any) -> ResolverMatch:
        if hasattr(request, "urlconf"):  # a per-request URL configuration: Django's own way
            return super().resolve_request(request)
        match = _own_copy(_resolved(get_resolver(), request.path_info))
        request.resolver_match = match
        return match
