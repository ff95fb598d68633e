"""Committed deadlines (承诺办结时间): each is tracked from the fact that starts its
clock to the fact that meets it, in working days of the Xinjiang calendar."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class DeadlineKind(StrEnum):
    REVIEW = "review"
    CENTRE_SIGNATURE = "centre_signature"
    MAIL_SHIPMENT = "mail_shipment"
    REISSUE_SYNC = "reissue_sync"


@dataclass(frozen=True)
class Commitment:
    label: str  # as staff read it
    working_days: int
    # The staff role that meets it, and is told when it is missed.
    role: str


COMMITMENTS: dict[DeadlineKind, Commitment] = {
    DeadlineKind.REVIEW: Commitment("补办资料审核", 3, "reviewer"),
    DeadlineKind.CENTRE_SIGNATURE: Commitment("电子证书中心签章", 3, "administrator"),
    DeadlineKind.MAIL_SHIPMENT: Commitment("证书邮寄寄出", 3, "shipping_clerk"),
    DeadlineKind.REISSUE_SYNC: Commitment("补办证书数据同步", 5, "administrator"),
}

# One row per clock started. A deadline is open until met or cancelled; the
# overdue sweep flags an open one once its due day has ended.
DEADLINES_TABLE = """
CREATE TABLE IF NOT EXISTS {schema}.deadlines (
    deadline_id uuid PRIMARY KEY,
    kind text NOT NULL,
    subject_id uuid NOT NULL,
    reference text NOT NULL,
    started_at timestamptz NOT NULL,
    due_on date NOT NULL,
    met_at timestamptz,
    cancelled_at timestamptz,
    overdue_flagged_at timestamptz
);
CREATE INDEX IF NOT EXISTS deadlines_open
    ON {schema}.deadlines (due_on) WHERE met_at IS NULL AND cancelled_at IS NULL;
CREATE INDEX IF NOT EXISTS deadlines_started ON {schema}.deadlines (started_at)
"""
