"""fast_init: a frozen dataclass built by the faster constructor is the same value as before."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import pytest

from settlement.rating.values import fast_init


@dataclass(frozen=True)
class Plain:
    a: int
    b: str = "b"
    c: list[int] = field(default_factory=list)


@fast_init
@dataclass(frozen=True)
class Fast:
    a: int
    b: str = "b"
    c: list[int] = field(default_factory=list)


def test_same_values_defaults_and_factories():
    assert dataclasses.asdict(Fast(1)) == dataclasses.asdict(Plain(1))
    assert dataclasses.asdict(Fast(1, "x", [2])) == dataclasses.asdict(Plain(1, "x", [2]))
    assert Fast(a=1, c=[3]).c == [3]
    assert Fast(1).c is not Fast(1).c  # the factory runs per instance


def test_still_frozen_comparable_hashable_and_replaceable():
    value = Fast(1, "x", [])
    with pytest.raises(dataclasses.FrozenInstanceError):
        value.a = 2  # type: ignore[misc]
    assert value == Fast(1, "x", [])
    assert value != Fast(2, "x", [])
    assert hash(Fast(1, "x", ())) == hash(Fast(1, "x", ()))  # type: ignore[arg-type]
    assert dataclasses.replace(value, a=5) == Fast(5, "x", [])
    assert repr(Fast(1)) == "Fast(a=1, b='b', c=[])"


def test_missing_or_unknown_arguments_raise_as_before():
    with pytest.raises(TypeError):
        Fast()  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Fast(1, d=2)  # type: ignore[call-arg]


def test_refuses_what_it_cannot_build_alike():
    @dataclass(frozen=True)
    class WithPostInit:
        a: int

        def __post_init__(self) -> None:
            pass

    @dataclass
    class Mutable:
        a: int

    @dataclass(frozen=True)
    class KeywordOnly:
        a: int = field(kw_only=True)

    for cls in (WithPostInit, Mutable, KeywordOnly):
        with pytest.raises(TypeError):
            fast_init(cls)
