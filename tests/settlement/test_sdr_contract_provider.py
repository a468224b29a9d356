"""contract_provider: the provider part of a contract ID, remembered from the shape check."""

from __future__ import annotations

import pytest

from clearinghouse.lib.identifiers import parse_contract_id
from settlement.validation import schema
from settlement.validation.schema import contract_provider


@pytest.mark.parametrize(
    "value", ["NL-BSC-C00012345", "nlbscc00012345", "DE-ABC-C12345678-X", "DEABCC12345678"]
)
def test_the_parts_parse_contract_id_reads(value):
    try:
        parsed = parse_contract_id(value)
    except Exception:
        assert contract_provider(value) is None
    else:
        assert contract_provider(value) == (parsed.country, parsed.party_id)


def test_a_normalised_id_is_answered_from_memory_and_after_forgetting_alike():
    normalized = schema._normalized_contract_id("nl-bsc-c00077777")
    assert schema._PROVIDERS[normalized] == ("NL", "BSC")
    assert contract_provider(normalized) == ("NL", "BSC")
    schema._PROVIDERS.clear()
    assert contract_provider(normalized) == ("NL", "BSC")


@pytest.mark.parametrize("value", ["", "not a contract", "XX-ABC-C12345678", "DE-ABC-C12345678-0"])
def test_none_for_what_is_not_a_contract_id(value):
    assert contract_provider(value) is None
