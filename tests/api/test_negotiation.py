"""The API's content negotiation answers as DRF's does, whatever the Accept header says."""

from __future__ import annotations

import pytest
from rest_framework.exceptions import NotAcceptable
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer, StaticHTMLRenderer
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from clearinghouse.api.fastjson import BulkJSONRenderer
from clearinghouse.api.negotiation import I3ContentNegotiation

ACCEPTS = [
    None,
    "",
    "*/*",
    "application/json",
    "application/json; indent=4",
    "application/*",
    "text/html",
    "text/csv",
    "text/html, application/json;q=0.5",
    "application/xml",
    "image/png, */*;q=0.1",
]
RENDERER_SETS = [
    [JSONRenderer()],
    [BulkJSONRenderer()],
    [JSONRenderer(), BrowsableAPIRenderer()],
    [StaticHTMLRenderer()],
]


def _answer(negotiation: DefaultContentNegotiation, request: Request, renderers: list) -> object:
    try:
        renderer, media_type = negotiation.select_renderer(request, renderers)
    except NotAcceptable:
        return "406"
    return type(renderer), media_type


@pytest.mark.parametrize("accept", ACCEPTS)
@pytest.mark.parametrize("query", ["", "?format=json", "?format=api", "?limit=5"])
@pytest.mark.parametrize("renderers", RENDERER_SETS, ids=lambda rs: "+".join(type(r).__name__ for r in rs))
def test_same_answer_as_drf(accept: str | None, query: str, renderers: list) -> None:
    django_request = APIRequestFactory().get("/api/i3/v1/ping" + query)
    if accept is None:
        django_request.META.pop("HTTP_ACCEPT", None)
    else:
        django_request.META["HTTP_ACCEPT"] = accept
    request = Request(django_request)
    try:
        expected = _answer(DefaultContentNegotiation(), request, renderers)
    except Exception as exc:  # Http404 for a format no renderer has
        with pytest.raises(type(exc)):
            _answer(I3ContentNegotiation(), request, renderers)
        return
    assert _answer(I3ContentNegotiation(), request, renderers) == expected


def test_the_api_uses_it(cso) -> None:
    response = cso.client.get("/ping", headers={"Accept": "text/html"})
    assert response.status_code == 406
    assert cso.client.get("/ping", headers={"Accept": "application/json"}).status_code == 200
