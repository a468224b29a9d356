"""docs/privacy.md names every table that holds a contract ID and every privacy setting."""

from __future__ import annotations

from pathlib import Path

from django.apps import apps
from django.conf import settings

DOC = (Path(__file__).resolve().parents[2] / "docs" / "privacy.md").read_text()


def test_every_table_with_a_contract_id_is_described() -> None:
    labels = {
        model._meta.label
        for model in apps.get_models()
        if not model._meta.proxy and any(f.name == "contract_id" for f in model._meta.concrete_fields)
    }
    assert len(labels) >= 8
    for label in labels:
        assert f"`{label}`" in DOC, label


def test_every_privacy_setting_is_described() -> None:
    names = [name for name in dir(settings) if name.startswith("PRIVACY_")]
    assert len(names) >= 10
    for name in names:
        assert f"`{name}`" in DOC, name
