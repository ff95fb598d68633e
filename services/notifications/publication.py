"""What other services (and notifications' own read model) see of its events."""

from __future__ import annotations

from services.common.relay import Published, publishing
from services.notifications.domain import ChannelChoice, MissedDeadline

PUBLISHED: Published = {
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

publication = publishing(PUBLISHED)
