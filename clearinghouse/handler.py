"""The hub's WSGI handler: Django's, with the URL resolution of recent paths remembered, and a
middleware chain of its own for the I3 API.

Resolving a path walks the URL patterns level by level (admin, the API's include, each app's
include) and builds a match object at every level: about 6% of the CPU of a signed ping. Partners
call the same few paths over and over, so the handler keeps the last `RESOLVED_PATHS` matches by
path (for the URL configuration in force: a changed `ROOT_URLCONF` gets a resolver of its own, and
so entries of its own). A path that does not resolve is never remembered, and every request gets a
match object and keyword arguments of its own, as Django gives it, since middleware may change them.

I3 API requests carry a bearer token and a signature, never a cookie or a form, and every API view is
exempt from CSRF. The middleware of the browser side does nothing for them (the session, the
logged-in user and the messages pass them straight through, clearinghouse.middleware), nor does
CSRF, and CommonMiddleware did two things: it answered a path missing its trailing slash with a
redirect instead of the API's JSON 404, and it set Content-Length, which the handler now sets
itself. Their chain leaves those out: each layer cost a call and its bookkeeping on every request
(about 4% of an authorization's instructions in-process). The rest (request id, outage answers, the
security headers, X-Frame-Options) is the same middleware, in the same order; the view,
template-response and exception middleware are Django's lists, shared.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed
from django.core.handlers.exception import convert_exception_to_response
from django.core.handlers.wsgi import WSGIHandler
from django.urls import get_resolver, set_urlconf
from django.urls.resolvers import ResolverMatch, URLResolver
from django.utils.log import log_response
from django.utils.module_loading import import_string

from .middleware import API_PREFIX, PASSES_API_THROUGH

RESOLVED_PATHS = 2048
# Middleware that has nothing to do for an I3 API request (see above), besides PASSES_API_THROUGH.
API_SKIPS = frozenset(
    {"django.middleware.csrf.CsrfViewMiddleware", "django.middleware.common.CommonMiddleware"}
)


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
    _api_chain: Any = None

    def load_middleware(self, is_async: bool = False) -> None:
        super().load_middleware(is_async)
        self._api_chain = None if is_async else self._chain_for_api()

    def _chain_for_api(self) -> Any:
        """settings.MIDDLEWARE without API_SKIPS and PASSES_API_THROUGH, around the same view
        handling (Django's load_middleware for a synchronous chain)."""
        handler = convert_exception_to_response(self._get_response)
        for path in reversed(settings.MIDDLEWARE):
            middleware = import_string(path)
            passes = isinstance(middleware, type) and issubclass(middleware, PASSES_API_THROUGH)
            if path in API_SKIPS or passes:  # a middleware may also be a function factory
                continue
            try:
                instance = middleware(handler)
            except MiddlewareNotUsed:
                continue
            handler = convert_exception_to_response(instance)
        return handler

    def get_response(self, request: Any) -> Any:
        chain = self._api_chain
        if chain is None or not request.path_info.startswith(API_PREFIX):
            return super().get_response(request)
        # BaseHandler.get_response, with the API's chain.
        set_urlconf(settings.ROOT_URLCONF)
        response = chain(request)
        if not response.streaming and not response.has_header("Content-Length"):
            response.headers["Content-Length"] = str(len(response.content))  # as CommonMiddleware
        response._resource_closers.append(request.close)
        if response.status_code >= 400:
            log_response("%s: %s", response.reason_phrase, request.path, response=response, request=request)
        return response

    def resolve_request(self, request: Any) -> ResolverMatch:
        if hasattr(request, "urlconf"):  # a per-request URL configuration: Django's own way
            return super().resolve_request(request)
        match = _own_copy(_resolved(get_resolver(), request.path_info))
        request.resolver_match = match
        return match
