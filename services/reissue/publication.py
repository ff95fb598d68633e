"""What other services (and reissue's own views) see of reissue's events.

Staff account ids travel with the facts, so staff views can say who did what; the
holder's own views drop them.
"""

from __future__ import annotations

from services.common.relay import Published, publishing
from services.reissue.domain import Application, MinistryBatch

PUBLISHED: Published = {
    Application.Started: (
        "reissue_started",
        (
            "account_id",
            "certificate_id",
            "certificate_number",
            "kind",
            "holder_name",
            "qualification_name",
            "level",
            "reason",
        ),
    ),
    Application.ReasonChanged: ("reissue_reason_changed", ("reason",)),
    Application.MaterialAttached: (
        "reissue_material_attached",
        ("material", "content_type", "size"),
    ),
    Application.MaterialRemoved: ("reissue_material_removed", ("material",)),
    Application.Submitted: ("reissue_submitted", ("submitted_at", "review_due")),
    Application.Returned: (
        "reissue_returned",
        ("reviewer_id", "message", "problems", "returned_at"),
    ),
    Application.Approved: (
        "reissue_approved",
        ("reviewer_id", "approved_at", "path"),
    ),
    Application.Batched: ("reissue_batched", ("batch_id", "period")),
    Application.Arrived: ("reissue_arrived", ("arrived_at", "sync_due")),
    Application.Synced: (
        "reissue_synced",
        (
            "synced_by",
            "synced_at",
            "certificate_id",
            "certificate_number",
            "holder_id_number",
            "holder_name",
        ),
    ),
    Application.Withdrawn: ("reissue_withdrawn", ("withdrawn_at",)),
    MinistryBatch.Closed: ("reissue_batch_closed", ("period", "closed_at", "entries")),
}

publication = publishing(PUBLISHED)
