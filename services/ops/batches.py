"""Closing the month's reissue batch for the ministry by hand.

The reissue service closes each batch itself the day after its closing day; this
does the same at once, through the same application, for when the ministry asks
early or the timer could not run. The running relay then publishes
`reissue_batch_closed` to the ministry's inbox.
"""

from __future__ import annotations

import re
from datetime import datetime

from services.common.settings import Settings
from services.common.workdays import BEIJING, WorkingCalendar
from services.reissue.application import ReissueApplication
from services.reissue.domain import MinistryBatch

SERVICE = "reissue"
PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


class NotAPeriod(ValueError):
    def __init__(self, raw: str) -> None:
        super().__init__(f"a batch is named by its month, like 2026-12, not {raw!r}")


def close_batch(settings: Settings, period: str) -> MinistryBatch:
    """Close the batch of `period` now; a closed batch is returned as it is."""
    if not PERIOD.match(period):
        raise NotAPeriod(period)
    app = _reissue(settings)
    try:
        return app.close_batch(period, datetime.now(BEIJING))
    finally:
        app.close()


def _reissue(settings: Settings) -> ReissueApplication:
    app = ReissueApplication.from_settings(settings, SERVICE)
    app.calendar = WorkingCalendar.for_settings(settings)
    app.batch_closing_day = settings.batch_closing_day
    return app
