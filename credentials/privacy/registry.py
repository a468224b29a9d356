"""Where the apps register what they do for privacy: erasure steps, what makes an erasure wait,
export sections and retention steps.

The credentials app runs an erasure, an export and the nightly retention job, but the data lives in
every app. Each app registers its own functions here from its AppConfig.ready() (the apps above
credentials, sessions and settlement) or from credentials' own ready() (credentials itself and the
plumbing below it), so the dependency arrow keeps pointing down. Registering a name again replaces
the earlier function (ready() may run more than once in tests).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

# fn(contract_ids, pseudonym) -> rows changed or deleted. `contract_ids` lists every spelling of
# the contract, canonical first (identity.contract_spellings). Runs inside the erasure's one
# transaction; it must be idempotent (running it twice changes nothing more).
ErasureStepFn = Callable[[list[str], str], int]
# fn(contract_ids) -> how many open activities (a charging session not yet ended) make an erasure
# of the contract wait.
ErasureBlockerFn = Callable[[list[str]], int]
# fn(contract_ids, csp_id) -> the records of one section of the export, as JSON-ready dicts, of the
# contract and the CSP that owns it only.
ExportProviderFn = Callable[[list[str], int], list[dict[str, Any]]]
# fn(now, batch_size) -> rows anonymised or deleted. Works through what is past its retention period
# in batches of at most `batch_size` rows, one transaction per batch (never one huge transaction).
RetentionStepFn = Callable[[datetime, int], int]

# Steps run in (order, name) order. The credentials app's own steps run last: the others recognise
# credential values by the lookup hashes of the credentials those steps delete.
DEFAULT_ORDER = 100
CREDENTIALS_ORDER = 900


@dataclass(frozen=True)
class Registered:
    name: str
    fn: Callable[..., Any]
    order: int = DEFAULT_ORDER


_ERASURE_STEPS: dict[str, Registered] = {}
_ERASURE_BLOCKERS: dict[str, Registered] = {}
_EXPORT_PROVIDERS: dict[str, Registered] = {}
_RETENTION_STEPS: dict[str, Registered] = {}


def _check_name(name: str) -> None:
    if not name or len(name) > 100 or not name.replace(".", "").replace("_", "").isalnum():
        raise ValueError(f"a privacy registration needs a name like 'app.thing', not {name!r}")


def erasure_step_register(name: str, fn: ErasureStepFn, *, order: int = DEFAULT_ORDER) -> None:
    """Register a step of every erasure: replace the contract ID with the pseudonym (or delete)."""
    _check_name(name)
    _ERASURE_STEPS[name] = Registered(name, fn, order)


def erasure_blocker_register(name: str, fn: ErasureBlockerFn) -> None:
    """Register a count of open activities that make an erasure wait (state SCHEDULED)."""
    _check_name(name)
    _ERASURE_BLOCKERS[name] = Registered(name, fn)


def export_provider_register(name: str, fn: ExportProviderFn, *, order: int = DEFAULT_ORDER) -> None:
    """Register a section of the export document; `name` is its key in the document."""
    _check_name(name)
    _EXPORT_PROVIDERS[name] = Registered(name, fn, order)


def retention_step_register(name: str, fn: RetentionStepFn, *, order: int = DEFAULT_ORDER) -> None:
    """Register a step of the nightly retention job."""
    _check_name(name)
    _RETENTION_STEPS[name] = Registered(name, fn, order)


def _sorted(items: dict[str, Registered]) -> list[Registered]:
    return sorted(items.values(), key=lambda r: (r.order, r.name))


def erasure_steps() -> list[Registered]:
    return _sorted(_ERASURE_STEPS)


def erasure_blockers() -> list[Registered]:
    return _sorted(_ERASURE_BLOCKERS)


def export_providers() -> list[Registered]:
    return _sorted(_EXPORT_PROVIDERS)


def retention_steps() -> list[Registered]:
    return _sorted(_RETENTION_STEPS)
