"""Who may use the finance pages, and what they see.

Hub finance staff are staff users with the permission to view statements: they see every partner
and, with the matching permissions, finalise statements and record payments. A partner's finance
user (FinanceUser) sees that partner's statements only. Anyone else is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..models import FinanceUser


@dataclass(frozen=True)
class FinanceAccess:
    partner_id: int | None  # None: hub finance staff, who see every partner
    label: str
    can_finalise: bool = False
    can_record_payment: bool = False

    @property
    def is_hub(self) -> bool:
        return self.partner_id is None


def finance_access(user: Any) -> FinanceAccess | None:
    """What a logged-in user may do on the finance pages (None: nothing)."""
    if not user.is_authenticated or not user.is_active:
        return None
    if user.is_staff and user.has_perm("settlement.view_statement"):
        return FinanceAccess(
            partner_id=None,
            label="Hub finance",
            can_finalise=user.has_perm("settlement.finalise_statement"),
            can_record_payment=user.has_perm("settlement.record_statement_payment"),
        )
    link = FinanceUser.objects.select_related("partner").filter(user=user).first()
    if link is None:
        return None
    return FinanceAccess(partner_id=link.partner_id, label=link.partner.name)
