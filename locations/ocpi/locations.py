"""OCPI 2.2.1 Location, EVSE and Connector: checking whole objects and PATCH bodies, and the
values derived from them.

Leniencies (each because an official example needs it, see docs/locations.md):
- `floor` is read as `floor_level` (the add-EVSE example uses the old name);
- integers are read as strings where OCPI wants a string for ids and references
  (`"physical_reference": 3`);
- a connector may omit `power_type`, `max_voltage` and `max_amperage` (the add-EVSE example does);
- `last_updated` may be missing on a full object: the caller supplies a default, and EVSEs and
  connectors without one take their parent's.
"""

from __future__ import annotations

from typing import Any

from clearinghouse.lib.identifiers import IdentifierError, parse_evse_id

from .datetimes import parse_datetime
from .enums import PHASES
from .schema import INVALID, Problems, Shape, clean, join
from .shapes import CONNECTOR, CONNECTOR_PATCH, EVSE, LOCATION


class DocumentError(ValueError):
    """A document that cannot be accepted, with every problem found and its path."""

    def __init__(self, problems: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{p['path']}: {p['message']}" for p in problems[:5]))
        self.problems = problems


def _checked(shape: Shape, raw: Any, *, partial: bool = False) -> dict[str, Any]:
    problems = Problems()
    cleaned = clean(shape, raw, "", problems, partial=partial)
    if problems or cleaned is INVALID:
        raise DocumentError(problems.items)
    return cleaned


def fill_last_updated(evse: dict[str, Any], default: str) -> None:
    """EVSEs and connectors without a last_updated take their parent's (a lenient reading)."""
    evse.setdefault("last_updated", default)
    for connector in evse.get("connectors") or []:
        connector.setdefault("last_updated", evse["last_updated"])


def _with_default(raw: Any, default_last_updated: str | None) -> Any:
    if isinstance(raw, dict) and raw.get("last_updated") is None and default_last_updated:
        return {**raw, "last_updated": default_last_updated}
    return raw


def location_clean(raw: Any, *, default_last_updated: str | None = None) -> dict[str, Any]:
    """A full Location object, checked; `default_last_updated` stands in for a missing one."""
    doc = _checked(LOCATION, _with_default(raw, default_last_updated))
    for evse in doc.get("evses") or []:
        fill_last_updated(evse, doc["last_updated"])
    return doc


def evse_clean(raw: Any, *, default_last_updated: str) -> dict[str, Any]:
    """A full EVSE object (PUT of one EVSE), checked."""
    doc = _checked(EVSE, raw)
    fill_last_updated(doc, default_last_updated)
    return doc


def connector_clean(raw: Any, *, default_last_updated: str) -> dict[str, Any]:
    """A full Connector object (PUT of one connector), checked."""
    doc = _checked(CONNECTOR, raw)
    doc.setdefault("last_updated", default_last_updated)
    return doc


def patch_clean(kind: str, raw: Any) -> dict[str, Any]:
    """A PATCH body for a location, an EVSE or a connector: known fields, last_updated required.

    Only the form of each given field is checked here; the merged object is checked in full.
    """
    shape = {"location": LOCATION, "evse": EVSE, "connector": CONNECTOR_PATCH}[kind]
    doc = _checked(shape, raw, partial=True)
    if not doc.get("last_updated"):
        raise DocumentError([{"path": "last_updated", "message": "is required in a PATCH"}])
    return doc


def patch_merge(stored: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """OCPI PATCH: the given fields replace the stored ones (lists as a whole); null removes."""
    merged = dict(stored)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def evse_ids_check(doc: dict[str, Any], operator_id: str) -> tuple[list[str | None], list[dict[str, str]]]:
    """Each EVSE needs a valid EVSE ID of the publishing CSO's operator ID, once per location.

    Returns the canonical EVSE IDs in the order of the EVSEs (None where refused) and the problems.
    """
    problems = Problems()
    canonical_ids: list[str | None] = []
    seen: set[str] = set()
    for i, evse in enumerate(doc.get("evses") or []):
        path = join(join("evses", i), "evse_id")
        canonical = evse_id_canonical(evse, path, operator_id, problems)
        if canonical is not None and canonical in seen:
            problems.add(path, "repeats the EVSE ID of an earlier EVSE")
        if canonical is not None:
            seen.add(canonical)
        canonical_ids.append(canonical)
    return canonical_ids, problems.items


def evse_id_canonical(evse: dict[str, Any], path: str, operator_id: str, problems: Problems) -> str | None:
    raw = evse.get("evse_id")
    if not raw:
        problems.add(path, "is required by the hub (EVSE IDs route authorizations and sessions)")
        return None
    try:
        parsed = parse_evse_id(raw)
    except IdentifierError as exc:
        problems.add(path, exc.message)
        return None
    if parsed.operator_id != operator_id:
        problems.add(path, f"belongs to operator {parsed.operator_id}, not to the publisher {operator_id}")
        return None
    return str(parsed)


def connector_power_w(connector: dict[str, Any]) -> int | None:
    """The most a connector can deliver, in W: max_electric_power, else phases × volts × amperes."""
    if connector.get("max_electric_power") is not None:
        return int(connector["max_electric_power"])
    phases = PHASES.get(connector.get("power_type") or "")
    voltage, amperage = connector.get("max_voltage"), connector.get("max_amperage")
    if phases is None or voltage is None or amperage is None:
        return None
    return phases * voltage * amperage


def latest(*stamps: str) -> str:
    """The latest of several OCPI DateTime strings, spelled as given."""
    return max(stamps, key=parse_datetime)
