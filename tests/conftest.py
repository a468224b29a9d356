"""Fixtures shared by every test: a clean cache, partners, and signed API clients."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from clearinghouse.api import authentication, nonces, principal
from tests.support import Onboarded, onboard


@pytest.fixture(autouse=True)
def _clean_cache():
    # Principals, nonces and throttle counters live in the cache; ids are reused across tests.
    cache.clear()
    # The nonce store remembers cache outages per process; each test starts with a healthy cache.
    nonces._state.update(down_since=None, last_failure=None, checked_at=0.0, fallback_rows=False)
    # What this process remembers of principals and verified tokens starts empty too.
    principal._local.clear()
    authentication._tokens.clear()
    yield


@pytest.fixture
def cso(db) -> Onboarded:
    return onboard(name="Alpha Charge", country="DE", party="ACH", roles=["CSO"])


@pytest.fixture
def csp(db) -> Onboarded:
    return onboard(name="Beta Mobility", country="NL", party="BMO", roles=["CSP"])


@pytest.fixture
def both(db) -> Onboarded:
    return onboard(name="Gamma Roaming", country="FR", party="GRO", roles=["CSO", "CSP"])
