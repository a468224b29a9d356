"""clearinghouse.handler: the WSGI handler remembers URL resolutions without sharing their objects."""

from __future__ import annotations

import json
import uuid

import pytest
from django.test import RequestFactory, override_settings
from django.urls import Resolver404, clear_url_caches, get_resolver, path

from clearinghouse.handler import HubWSGIHandler, _resolved

COMMAND = "/api/i3/v1/commands/{}"


@pytest.fixture
def handler():
    _resolved.cache_clear()
    yield HubWSGIHandler()
    _resolved.cache_clear()


def _resolve(handler: HubWSGIHandler, url: str):
    request = RequestFactory().get(url)
    match = handler.resolve_request(request)
    assert request.resolver_match is match
    return match


def test_a_path_is_resolved_once_and_answers_as_django_does(handler) -> None:
    url = COMMAND.format(uuid.uuid4())
    first, second = _resolve(handler, url), _resolve(handler, url)
    assert _resolved.cache_info().misses == 1 and _resolved.cache_info().hits == 1
    django_match = get_resolver().resolve(url)
    for match in (first, second):
        assert match.func is django_match.func
        assert (match.args, match.kwargs) == (django_match.args, django_match.kwargs)
        assert (match.url_name, match.route, match.view_name) == (
            django_match.url_name,
            django_match.route,
            django_match.view_name,
        )


def test_every_request_gets_a_match_and_arguments_of_its_own(handler) -> None:
    url = COMMAND.format(uuid.uuid4())
    first = _resolve(handler, url)
    first.kwargs["command_id"] = "changed by a middleware"
    second = _resolve(handler, url)
    assert second is not first and isinstance(second.kwargs["command_id"], uuid.UUID)


def test_a_path_that_does_not_resolve_is_not_remembered(handler) -> None:
    for _ in range(2):
        with pytest.raises(Resolver404):
            _resolve(handler, "/no/such/path")
    assert _resolved.cache_info().currsize == 0


def ok_view(request):  # pragma: no cover - resolved, never called
    return None


urlpatterns = [path("api/i3/v1/commands/<str:other>", ok_view, name="other")]


def test_another_url_configuration_gets_its_own_resolutions(handler) -> None:
    url = COMMAND.format(uuid.uuid4())
    assert _resolve(handler, url).url_name == "command-detail"
    with override_settings(ROOT_URLCONF=__name__):
        assert _resolve(handler, url).url_name == "other"
    clear_url_caches()
    assert _resolve(handler, url).url_name == "command-detail"


def test_a_request_with_its_own_url_configuration_is_resolved_by_django(handler) -> None:
    request = RequestFactory().get(COMMAND.format(uuid.uuid4()))
    request.urlconf = __name__
    try:
        assert handler.resolve_request(request).url_name == "other"
    finally:
        from django.urls import set_urlconf

        set_urlconf(None)
    assert _resolved.cache_info().currsize == 0


# --- the I3 API's middleware chain ----------------------------------------------------------------


def _through_both(url: str):
    """The same request through the API's chain and through Django's full chain."""
    handler = HubWSGIHandler()
    api = handler.get_response(RequestFactory().get(url))
    full = handler._middleware_chain(RequestFactory().get(url))
    return api, full


@pytest.mark.django_db
def test_an_api_answer_carries_the_same_headers_as_through_every_middleware() -> None:
    api, full = _through_both("/api/i3/v1/ping")  # no token: the API's 401
    assert api.status_code == full.status_code == 401
    assert sorted(api.headers) == sorted(full.headers)
    for name, value in full.headers.items():
        if name != "X-Request-ID":
            assert api.headers[name] == value
    security = ("X-Content-Type-Options", "Referrer-Policy", "Cross-Origin-Opener-Policy", "X-Frame-Options")
    for name in (*security, "Content-Length"):
        assert name in api.headers
    assert api.content == full.content


@pytest.mark.django_db
def test_an_api_path_without_its_slash_is_the_apis_404_not_a_redirect() -> None:
    api, full = _through_both("/api/i3/v1/credentials")
    assert full.status_code == 301  # CommonMiddleware's APPEND_SLASH
    assert api.status_code == 404
    assert json.loads(api.content)["error"]["code"] == "not_found"


@pytest.mark.django_db
def test_pages_outside_the_api_keep_every_middleware() -> None:
    handler = HubWSGIHandler()
    answer = handler.get_response(RequestFactory().get("/admin"))
    assert answer.status_code == 301 and answer["Location"] == "/admin/"
    login = handler.get_response(RequestFactory().get("/admin/login/"))
    assert login.status_code == 200 and "csrftoken" in login.cookies
