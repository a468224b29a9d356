"""Forms of the finance pages: the statement filters and the payment form."""

from __future__ import annotations

from typing import Any

from django import forms

from partners.models import Partner

from ..models import StatementState
from ..periods import parse_period_key


class StatementFilterForm(forms.Form):
    period = forms.CharField(required=False, max_length=10, help_text="2026-11, 2026-W48 or 2026-11-26")
    partner = forms.ModelChoiceField(
        Partner.objects.order_by("name"), required=False, empty_label="every partner"
    )
    state = forms.ChoiceField(choices=[("", "any state"), *StatementState.choices], required=False)
    currency = forms.ChoiceField(choices=[("", "any currency")], required=False)

    def __init__(self, *args: Any, currencies: list[str], hub: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["currency"].choices = [("", "any currency"), *((c, c) for c in currencies)]
        if not hub:
            del self.fields["partner"]

    def clean_period(self) -> str:
        value = self.cleaned_data["period"].strip()
        if not value:
            return ""
        try:
            return parse_period_key(value).key
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None


class PaymentForm(forms.Form):
    amount = forms.CharField(max_length=24, help_text="in the statement's currency, e.g. 120.50")
    reference = forms.CharField(max_length=140, required=False, help_text="bank reference")
