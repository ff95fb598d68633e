"""What other services (and notifications' own read model) see of its events."""

from __future__ import annotations

from eventsourcing.domain import DomainEventProtocol

from services.common.relay import Publication, plain
from services.notifications.domain import ChannelChoice, MissedDeadline

PUBLISHED: dict[type, tuple[str, tuple[str, ...]]] = {
    ChannelChoice.Made: (
        "notification_channels_chosen",
        ("account_id", "sms", "email"),
    ),
    ChannelChoice.Changed: ("notification_channels_chosen", ("sms", "email")),
    MissedDeadline.Flagged: (
        "deadline_overdue",
        ("kind", "subject_id", "reference", "due_on", "flagged_at"),
    ),
}


def publication(domain_event: DomainEventProtocol) -> Publication | None:
    for kind, (event_type, fields) in PUBLISHED.items():
        if isinstance(domain_event, kind):
            data = {name: plain(getattr(domain_event, name)) for name in fields}
            return Publication(event_type, 1, data)
    return None
