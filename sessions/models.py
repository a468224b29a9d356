"""Remote commands, reservations and charging sessions.

Partners' identifiers are stored in their canonical forms (EVSE ID `DE*ABC*E1`, contract ID
`DE-ABC-C12345678-9`); no driver's name and no credential value in clear is kept here.
"""

from __future__ import annotations

import uuid

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import F, Q

from .inputs import AUTH_METHODS, COMMAND_TYPES, RESPONSES, RESULTS
from .machine import (
    COMMAND_OPEN,
    RESERVATION_OPEN,
    CommandState,
    ReservationState,
    SessionStatus,
)


def _choices(values: tuple[str, ...] | type) -> list[tuple[str, str]]:
    return [(str(v), str(v).replace("_", " ").capitalize()) for v in values]


class Reservation(models.Model):
    """An EVSE held for a CSP's contract until `expiry_date`, asked for with RESERVE_NOW.

    `reservation_id` is the CSP's own name for it, unique among the CSP's open reservations (a
    finished one frees its id for reuse).
    """

    reservation_id = models.CharField("reservation ID", max_length=36)
    csp = models.ForeignKey(
        "partners.Partner", on_delete=models.PROTECT, related_name="+", verbose_name="CSP"
    )
    cso = models.ForeignKey(
        "partners.Partner", on_delete=models.PROTECT, related_name="+", verbose_name="CSO"
    )
    evse_id = models.CharField("EVSE ID", max_length=48)
    connector_id = models.CharField(max_length=36, blank=True)
    contract_id = models.CharField("contract ID", max_length=18)
    expiry_date = models.DateTimeField()
    authorization_reference = models.CharField(max_length=36, blank=True)
    state = models.CharField(
        max_length=10, choices=_choices(ReservationState), default=ReservationState.REQUESTED.value
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["csp", "reservation_id"],
                condition=Q(state__in=sorted(s.value for s in RESERVATION_OPEN)),
                name="reservation_unique_open_id",
            ),
            models.CheckConstraint(
                condition=Q(state__in=[s.value for s in ReservationState]), name="reservation_state_valid"
            ),
        ]
        indexes = [
            # reservations_expire_due(): open reservations whose expiry passed.
            models.Index(
                fields=["expiry_date"],
                name="reservation_open_expiry",
                condition=Q(state__in=sorted(s.value for s in RESERVATION_OPEN)),
            ),
            # session_start(): the open reservation a session's authorization_reference uses up.
            models.Index(
                fields=["authorization_reference"],
                name="reservation_open_reference",
                condition=Q(state__in=sorted(s.value for s in RESERVATION_OPEN)),
            ),
        ]

    def __str__(self) -> str:
        return f"reservation {self.reservation_id} at {self.evse_id} ({self.state})"


class RemoteCommand(models.Model):
    """A CSP's remote command to a CSO's EVSE, routed by the hub, and what became of it.

    `response` is the CSO's immediate answer to the delivery; `result` its final outcome. The
    state machine is in machine.py; `deadline_at` is when the timeout job gives up waiting.
    """

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    type = models.CharField(max_length=20, choices=_choices(COMMAND_TYPES))
    csp = models.ForeignKey(
        "partners.Partner", on_delete=models.PROTECT, related_name="+", verbose_name="CSP"
    )
    cso = models.ForeignKey(
        "partners.Partner", on_delete=models.PROTECT, related_name="+", verbose_name="CSO"
    )
    state = models.CharField(
        max_length=16, choices=_choices(CommandState), default=CommandState.PENDING.value
    )
    evse_id = models.CharField("EVSE ID", max_length=48, blank=True)
    connector_id = models.CharField(max_length=36, blank=True)
    contract_id = models.CharField("contract ID", max_length=18, blank=True)
    session_id = models.CharField("session ID", max_length=36, blank=True, help_text="STOP_SESSION")
    reservation = models.ForeignKey(
        Reservation, on_delete=models.PROTECT, null=True, blank=True, related_name="commands"
    )
    authorization_reference = models.CharField(
        max_length=36, blank=True, help_text="the hub's authorization, which the CSO quotes in the session"
    )
    csp_reference = models.CharField(
        "CSP's reference", max_length=36, blank=True, help_text="the CSP's own reference, kept for it"
    )
    response = models.CharField(max_length=16, blank=True, choices=_choices(RESPONSES))
    response_timeout = models.PositiveIntegerField(
        null=True, blank=True, help_text="seconds the CSO announced (bounded by COMMAND_MAX_TIMEOUT_SECONDS)"
    )
    result = models.CharField(max_length=24, blank=True, choices=_choices(RESULTS))
    message = models.CharField(max_length=255, blank=True, help_text="the CSO's text with its answer")
    failure_reason = models.CharField(max_length=500, blank=True)
    # The delivery to the CSO, cancelled when the command is given up before it went out.
    delivery = models.ForeignKey(
        "routing.OutboxMessage", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    deadline_at = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=Q(type__in=list(COMMAND_TYPES)), name="command_type_valid"),
            models.CheckConstraint(
                condition=Q(state__in=[s.value for s in CommandState]), name="command_state_valid"
            ),
            models.CheckConstraint(
                condition=(Q(state=CommandState.RESULT.value) & ~Q(result=""))
                | (~Q(state=CommandState.RESULT.value) & Q(result="")),
                name="command_result_iff_state_result",
            ),
            models.CheckConstraint(condition=~Q(cso=F("csp")), name="command_distinct_parties"),
        ]
        indexes = [
            # commands_time_out_overdue(): commands still waiting, by deadline.
            models.Index(
                fields=["deadline_at"],
                name="command_open_deadline",
                condition=Q(state__in=sorted(s.value for s in COMMAND_OPEN)),
            ),
            # Staff's look at one partner's recent commands.
            models.Index(fields=["csp", "created_at"], name="command_csp_created"),
            models.Index(fields=["cso", "created_at"], name="command_cso_created"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {str(self.uid)[:8]} ({self.state})"


class ChargingSession(models.Model):
    """One charging session at one CSO's EVSE for one CSP's contract, as the CSO reports it.

    The CSO names it by its own `session_id` (unique per CSO). `last_updated` is the CSO's clock
    and orders its updates (an older one is ignored); `updated_at` is the hub's and drives `since`.
    """

    session_id = models.CharField("session ID", max_length=36)
    cso = models.ForeignKey(
        "partners.Partner", on_delete=models.PROTECT, related_name="+", verbose_name="CSO"
    )
    csp = models.ForeignKey(
        "partners.Partner", on_delete=models.PROTECT, related_name="+", verbose_name="CSP"
    )
    agreement = models.ForeignKey(
        "partners.RoamingAgreement", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    status = models.CharField(max_length=10, choices=_choices(SessionStatus))
    evse_id = models.CharField("EVSE ID", max_length=48)
    location_id = models.CharField(max_length=36, blank=True)
    evse_uid = models.CharField("EVSE UID", max_length=36, blank=True)
    connector_id = models.CharField(max_length=36)
    time_zone = models.CharField(max_length=64, blank=True, help_text="IANA name, of the location")
    contract_id = models.CharField("contract ID", max_length=18)
    token_type = models.CharField(max_length=12, blank=True)
    token_hint = models.CharField(max_length=16, blank=True, help_text="masked token value")
    auth_method = models.CharField(max_length=12, choices=_choices(AUTH_METHODS))
    authorization_reference = models.CharField(max_length=36, blank=True)
    start_date_time = models.DateTimeField()
    end_date_time = models.DateTimeField(null=True, blank=True)
    kwh = models.DecimalField("kWh", max_digits=14, decimal_places=4, default=0)
    currency = models.CharField(max_length=3)
    total_cost_excl_vat = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    total_cost_incl_vat = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    charging_periods = models.JSONField(default=list, blank=True, encoder=DjangoJSONEncoder)
    meter_id = models.CharField(max_length=255, blank=True)
    last_updated = models.DateTimeField(help_text="the CSO's time of its last update")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(db_index=False)
    progress_sent_at = models.DateTimeField(
        null=True, blank=True, help_text="when the CSP was last sent a progress update"
    )

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["cso", "session_id"], name="session_unique_cso_id"),
            # One authorization starts one session: a second session quoting it is refused.
            models.UniqueConstraint(
                fields=["authorization_reference"],
                condition=~Q(authorization_reference=""),
                name="session_unique_authorization",
            ),
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in SessionStatus]), name="session_status_valid"
            ),
            models.CheckConstraint(condition=Q(kwh__gte=0), name="session_kwh_not_negative"),
            models.CheckConstraint(
                condition=Q(total_cost_excl_vat__isnull=True) | Q(total_cost_excl_vat__gte=0),
                name="session_cost_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(total_cost_incl_vat__isnull=True) | Q(total_cost_incl_vat__gte=0),
                name="session_cost_incl_vat_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(end_date_time__isnull=True) | Q(end_date_time__gte=F("start_date_time")),
                name="session_end_after_start",
            ),
            models.CheckConstraint(
                condition=~Q(status=SessionStatus.COMPLETED.value) | Q(end_date_time__isnull=False),
                name="session_completed_has_end",
            ),
            models.CheckConstraint(condition=~Q(cso=F("csp")), name="session_distinct_parties"),
        ]
        indexes = [
            # sessions_visible_to(): a CSP's sessions changed since, in the API's order.
            models.Index(fields=["csp", "updated_at", "id"], name="session_csp_updated"),
            # The same for a CSO reading its own.
            models.Index(fields=["cso", "updated_at", "id"], name="session_cso_updated"),
            # Staff search by contract ID; the erasure of a contract's data.
            models.Index(fields=["contract_id"], name="session_contract"),
        ]

    def __str__(self) -> str:
        return f"session {self.session_id} at {self.evse_id} ({self.status})"
