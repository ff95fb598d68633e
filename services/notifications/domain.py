"""The notifications service's own facts: holders' channel choices, missed deadlines."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from eventsourcing.domain import Aggregate, event

NAMESPACE = uuid.UUID("5d1b8f4e-0f1c-4a8e-9a57-3c1f0c7e2b61")


def choice_id(account_id: uuid.UUID) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"channels:{account_id}")


class ChannelChoice(Aggregate):
    """How one holder wants to be told, besides the in-app inbox they always have."""

    class Made(Aggregate.Created):
        account_id: uuid.UUID
        sms: bool
        email: str | None

    def __init__(self, account_id: uuid.UUID, sms: bool, email: str | None) -> None:
        self.account_id = account_id
        self.sms = sms
        self.email = email

    @classmethod
    def make(cls, account_id: uuid.UUID, sms: bool, email: str | None) -> ChannelChoice:
        return cls._create(
            cls.Made,
            id=choice_id(account_id),
            account_id=account_id,
            sms=sms,
            email=email,
        )

    @event("Changed")
    def change(self, sms: bool, email: str | None) -> None:
        self.sms = sms
        self.email = email


class MissedDeadline(Aggregate):
    """A committed deadline whose day ended before the step that meets it.

    Its id is the deadline's, so a deadline is flagged once, however many
    replicas run the overdue check.
    """

    class Flagged(Aggregate.Created):
        kind: str
        subject_id: uuid.UUID
        reference: str
        due_on: date
        flagged_at: datetime

    def __init__(
        self,
        kind: str,
        subject_id: uuid.UUID,
        reference: str,
        due_on: date,
        flagged_at: datetime,
    ) -> None:
        self.kind = kind
        self.subject_id = subject_id
        self.reference = reference
        self.due_on = due_on
        self.flagged_at = flagged_at

    @classmethod
    def flag(
        cls,
        deadline_id: uuid.UUID,
        kind: str,
        subject_id: uuid.UUID,
        reference: str,
        due_on: date,
        flagged_at: datetime,
    ) -> MissedDeadline:
        return cls._create(
            cls.Flagged,
            id=deadline_id,
            kind=kind,
            subject_id=subject_id,
            reference=reference,
            due_on=due_on,
            flagged_at=flagged_at,
        )
