"""locations.status_sql.pg_array: the array literal of a batch column, and what it refuses."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from locations.status_sql import pg_array


def _reference(values: list[object]) -> str:
    texts = [str(value) for value in values]
    if any('"' in text or "\\" in text for text in texts):
        raise ValueError("refused")
    return "{" + ",".join(f'"{text}"' for text in texts) + "}"


def test_plain_values() -> None:
    assert pg_array([]) == "{}"
    assert pg_array([""]) == '{""}'
    assert pg_array([1, 22, 333]) == '{"1","22","333"}'
    assert pg_array(["DE*ACH*E1", "a,b", "2026-01-01T00:00:00+00:00"]) == (
        '{"DE*ACH*E1","a,b","2026-01-01T00:00:00+00:00"}'
    )


@pytest.mark.parametrize(
    "values", [['a"'], ['x",', '"y'], ["ok", '","'], ['"'], ["back\\slash"], ["a", "b\\"], ['",""']]
)
def test_a_quote_or_backslash_anywhere_is_refused(values: list[str]) -> None:
    with pytest.raises(ValueError):
        pg_array(values)


@given(st.lists(st.one_of(st.text(alphabet=st.sampled_from('ab,"\\{} *'), max_size=6), st.integers())))
def test_agrees_with_the_plain_definition(values: list[object]) -> None:
    try:
        expected = _reference(values)
    except ValueError:
        with pytest.raises(ValueError):
            pg_array(values)
    else:
        assert pg_array(values) == expected
