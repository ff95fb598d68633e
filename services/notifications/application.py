"""The notifications service's event store: channel choices and missed deadlines."""

from __future__ import annotations

import logging
import uuid
from datetime import date, datetime

from eventsourcing.persistence import IntegrityError

from services.common.eventstore import ServiceApplication
from services.notifications.domain import ChannelChoice, MissedDeadline, choice_id

log = logging.getLogger(__name__)


class NotificationsApplication(ServiceApplication):
    def choose_channels(
        self, account_id: uuid.UUID, sms: bool, email: str | None
    ) -> ChannelChoice:
        choice = self.find_aggregate(choice_id(account_id), ChannelChoice)
        if choice is None:
            choice = ChannelChoice.make(account_id, sms, email)
        elif (choice.sms, choice.email) == (sms, email):
            return choice
        else:
            choice.change(sms, email)
        self.save(choice)
        return choice

    def channels_of(self, account_id: uuid.UUID) -> ChannelChoice | None:
        return self.find_aggregate(choice_id(account_id), ChannelChoice)

    def flag_overdue(
        self,
        deadline_id: uuid.UUID,
        kind: str,
        subject_id: uuid.UUID,
        reference: str,
        due_on: date,
        now: datetime,
    ) -> bool:
        """Record that a deadline was missed; False if it already was."""
        if self.find_aggregate(deadline_id, MissedDeadline) is not None:
            return False
        missed = MissedDeadline.flag(
            deadline_id, kind, subject_id, reference, due_on, now
        )
        try:
            self.save(missed)
        except IntegrityError:  # another replica flagged it a moment ago
            return False
        log.info("deadline %s (%s) flagged overdue", deadline_id, kind)
        return True
