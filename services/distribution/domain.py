"""Getting paper certificates to their holders: custody, pickup windows, bookings, mail.

- `Custody`: the centre's keeping of one national paper certificate, from the day it
  is on record until it is collected, delivered, or its 5-year custody ends. Its id
  is the certificate's id.
- `PickupDay` and `PickupWindow`: the counter's opening on a Tuesday or Thursday,
  cut into windows with a number of seats. A window's reservations decide whether a
  booking fits; two bookings of the last seat conflict on the window's version, so
  there is no overbooking.
- `Booking`: one holder's appointment for one or more certificates.
- `MailOrder`: a request to mail certificates, shipped within 3 working days.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from eventsourcing.domain import Aggregate, event

from services.common.settings import PickupSettings
from services.common.workdays import BEIJING, WorkingCalendar

NAMESPACE = uuid.UUID("8f1d6c2e-3a47-4b5e-9c0d-2e6f7a8b9c10")
PICKUP_WEEKDAYS = (1, 3)  # Tuesday and Thursday
SUMMER_SESSIONS = ((time(10, 0), time(13, 0)), (time(16, 0), time(19, 30)))
WINTER_SESSIONS = ((time(10, 0), time(13, 0)), (time(15, 30), time(19, 0)))
REMINDER_DAYS = (90, 30)
CUSTODY_YEARS = 5


class CustodyState:
    IN_CUSTODY = "in_custody"
    BOOKED = "booked"
    MAIL_REQUESTED = "mail_requested"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    COLLECTED = "collected"
    EXPIRED = "custody_expired"


class BookingState:
    BOOKED = "booked"
    CANCELLED = "cancelled"
    LAPSED = "lapsed"
    COLLECTED = "collected"


@dataclass(frozen=True)
class Slot:
    """One pickup window: when it starts and ends, in Beijing time."""

    starts_at: datetime
    ends_at: datetime

    @property
    def window_id(self) -> uuid.UUID:
        return uuid.uuid5(NAMESPACE, f"window:{self.starts_at.isoformat()}")

    @property
    def day(self) -> date:
        return self.starts_at.date()


@dataclass(frozen=True)
class PickupRules:
    settings: PickupSettings
    calendar: WorkingCalendar

    def is_pickup_day(self, day: date) -> bool:
        """Tuesdays and Thursdays that are working days (not a holiday, not off)."""
        return day.weekday() in PICKUP_WEEKDAYS and self.calendar.is_working_day(day)

    def slots(self, day: date) -> list[Slot]:
        if not self.is_pickup_day(day):
            return []
        length = timedelta(minutes=self.settings.window_minutes)
        slots = []
        for opens, closes in self._sessions(day):
            start = datetime.combine(day, opens, BEIJING)
            end_of_session = datetime.combine(day, closes, BEIJING)
            while start + length <= end_of_session:
                slots.append(Slot(start, start + length))
                start += length
        return slots

    def slot_starting(self, starts_at: datetime) -> Slot | None:
        local = starts_at.astimezone(BEIJING)
        return next((s for s in self.slots(local.date()) if s.starts_at == local), None)

    def _sessions(self, day: date) -> tuple[tuple[time, time], ...]:
        summer = self.settings.summer_starts <= (day.month, day.day)
        summer = summer and (day.month, day.day) <= self.settings.summer_ends
        return SUMMER_SESSIONS if summer else WINTER_SESSIONS


def reissued_custody_ends(synced_on: date) -> date:
    """A reissued certificate is kept 5 years from the day its data was synced."""
    try:
        return synced_on.replace(year=synced_on.year + CUSTODY_YEARS)
    except ValueError:  # 29 February in a year that has none
        return synced_on.replace(year=synced_on.year + CUSTODY_YEARS, day=28)


def pickup_day_id(day: date) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"day:{day.isoformat()}")


class Custody(Aggregate):
    class Opened(Aggregate.Created):
        certificate_number: str
        holder_id_number: str
        holder_name: str
        custody_until: date
        reissued: bool

    def __init__(
        self,
        certificate_number: str,
        holder_id_number: str,
        holder_name: str,
        custody_until: date,
        reissued: bool,
    ) -> None:
        self.certificate_number = certificate_number
        self.holder_id_number = holder_id_number
        self.holder_name = holder_name
        self.custody_until = custody_until
        self.reissued = reissued
        self.state = CustodyState.IN_CUSTODY
        self.booking_id: uuid.UUID | None = None
        self.order_id: uuid.UUID | None = None
        self.reminded: list[int] = []
        self.reissues: list[uuid.UUID] = []

    @classmethod
    def open(
        cls,
        certificate_id: uuid.UUID,
        certificate_number: str,
        holder_id_number: str,
        holder_name: str,
        custody_until: date,
        reissued: bool = False,
    ) -> Custody:
        return cls._create(
            cls.Opened,
            id=certificate_id,
            certificate_number=certificate_number,
            holder_id_number=holder_id_number,
            holder_name=holder_name,
            custody_until=custody_until,
            reissued=reissued,
        )

    def is_claimable(self, today: date) -> bool:
        return self.state == CustodyState.IN_CUSTODY and today <= self.custody_until

    @event("Booked")
    def book(self, booking_id: uuid.UUID, starts_at: datetime, ends_at: datetime):
        self.state = CustodyState.BOOKED
        self.booking_id = booking_id

    @event("Released")
    def release(self, reason: str) -> None:
        self.state = CustodyState.IN_CUSTODY
        self.booking_id = None

    @event("Collected")
    def collect(self, booking_id: uuid.UUID, collected_by: str) -> None:
        self.state = CustodyState.COLLECTED

    @event("MailRequested")
    def request_mail(self, order_id: uuid.UUID, ship_by: date) -> None:
        self.state = CustodyState.MAIL_REQUESTED
        self.order_id = order_id

    @event("Shipped")
    def ship(self, order_id: uuid.UUID, tracking_number: str) -> None:
        self.state = CustodyState.SHIPPED

    @event("Delivered")
    def deliver(self, order_id: uuid.UUID) -> None:
        self.state = CustodyState.DELIVERED

    @event("EndingSoon")
    def remind(self, days_left: int) -> None:
        self.reminded = [*self.reminded, days_left]

    @event("Expired")
    def expire(self) -> None:
        self.state = CustodyState.EXPIRED

    @event("Reissued")
    def reissue(self, application_id: uuid.UUID, custody_until: date) -> None:
        """A reissued certificate replaces this one in the centre's keeping."""
        self.state = CustodyState.IN_CUSTODY
        self.reissued = True
        self.custody_until = custody_until
        self.booking_id = None
        self.order_id = None
        self.reminded = []
        self.reissues = [*self.reissues, application_id]


class PickupDay(Aggregate):
    """Administrators' settings for one pickup day: its seats, or that it is closed."""

    class Configured(Aggregate.Created):
        day: date

    def __init__(self, day: date) -> None:
        self.day = day
        self.capacity: int | None = None
        self.closed_because: str | None = None

    @classmethod
    def configure(cls, day: date) -> PickupDay:
        return cls._create(cls.Configured, id=pickup_day_id(day), day=day)

    @event("CapacitySet")
    def set_capacity(self, capacity: int) -> None:
        self.capacity = capacity

    @event("Closed")
    def close(self, reason: str) -> None:
        self.closed_because = reason

    @event("Reopened")
    def reopen(self) -> None:
        self.closed_because = None


class PickupWindow(Aggregate):
    class Opened(Aggregate.Created):
        starts_at: datetime
        ends_at: datetime

    def __init__(self, starts_at: datetime, ends_at: datetime) -> None:
        self.starts_at = starts_at
        self.ends_at = ends_at
        self.reservations: list[str] = []

    @classmethod
    def open(cls, slot: Slot) -> PickupWindow:
        return cls._create(
            cls.Opened,
            id=slot.window_id,
            starts_at=slot.starts_at,
            ends_at=slot.ends_at,
        )

    @property
    def seats_taken(self) -> int:
        return len(self.reservations)

    @event("Reserved")
    def reserve(self, booking_id: uuid.UUID) -> None:
        self.reservations = [*self.reservations, str(booking_id)]

    @event("Freed")
    def free(self, booking_id: uuid.UUID) -> None:
        self.reservations = [r for r in self.reservations if r != str(booking_id)]


class Booking(Aggregate):
    class Made(Aggregate.Created):
        account_id: uuid.UUID
        certificate_ids: list[uuid.UUID]
        certificate_numbers: list[str]
        starts_at: datetime
        ends_at: datetime

    def __init__(
        self,
        account_id: uuid.UUID,
        certificate_ids: list[uuid.UUID],
        certificate_numbers: list[str],
        starts_at: datetime,
        ends_at: datetime,
    ) -> None:
        self.account_id = account_id
        self.certificate_ids = certificate_ids
        self.certificate_numbers = certificate_numbers
        self.starts_at = starts_at
        self.ends_at = ends_at
        self.state = BookingState.BOOKED
        self.proxy_name: str | None = None
        self.proxy_id_number: str | None = None

    @classmethod
    def make(
        cls,
        account_id: uuid.UUID,
        custodies: list[Custody],
        slot: Slot,
    ) -> Booking:
        return cls._create(
            cls.Made,
            account_id=account_id,
            certificate_ids=[c.id for c in custodies],
            certificate_numbers=[c.certificate_number for c in custodies],
            starts_at=slot.starts_at,
            ends_at=slot.ends_at,
        )

    @property
    def window_id(self) -> uuid.UUID:
        return Slot(self.starts_at, self.ends_at).window_id

    def is_active(self) -> bool:
        return self.state == BookingState.BOOKED

    @event("Moved")
    def move(self, starts_at: datetime, ends_at: datetime) -> None:
        self.starts_at = starts_at
        self.ends_at = ends_at

    @event("Cancelled")
    def cancel(self, reason: str) -> None:
        self.state = BookingState.CANCELLED

    @event("Lapsed")
    def lapse(self) -> None:
        self.state = BookingState.LAPSED

    class ProxyNamed(Aggregate.Event):
        name: str
        id_number: str

        @property
        def id_number_ends_with(self) -> str:
            return self.id_number[-4:]

    @event(ProxyNamed)
    def name_proxy(self, name: str, id_number: str) -> None:
        self.proxy_name = name
        self.proxy_id_number = id_number

    @event("HandedOver")
    def hand_over(
        self,
        clerk_id: uuid.UUID,
        collected_by: str,
        proxy_name: str | None,
        proxy_id_number: str | None,
        authorisation: str | None,
    ) -> None:
        self.state = BookingState.COLLECTED


class MailOrder(Aggregate):
    class Requested(Aggregate.Created):
        account_id: uuid.UUID
        certificate_ids: list[uuid.UUID]
        certificate_numbers: list[str]
        recipient: str
        mobile: str
        address: dict
        ship_by: date

    def __init__(
        self,
        account_id: uuid.UUID,
        certificate_ids: list[uuid.UUID],
        certificate_numbers: list[str],
        recipient: str,
        mobile: str,
        address: dict,
        ship_by: date,
    ) -> None:
        self.account_id = account_id
        self.certificate_ids = certificate_ids
        self.certificate_numbers = certificate_numbers
        self.recipient = recipient
        self.mobile = mobile
        self.address = address
        self.ship_by = ship_by
        self.tracking_number: str | None = None
        self.delivered = False

    @classmethod
    def request(
        cls,
        account_id: uuid.UUID,
        custodies: list[Custody],
        recipient: str,
        mobile: str,
        address: dict,
        ship_by: date,
    ) -> MailOrder:
        return cls._create(
            cls.Requested,
            account_id=account_id,
            certificate_ids=[c.id for c in custodies],
            certificate_numbers=[c.certificate_number for c in custodies],
            recipient=recipient,
            mobile=mobile,
            address=address,
            ship_by=ship_by,
        )

    @property
    def shipped(self) -> bool:
        return self.tracking_number is not None

    @event("Edited")
    def edit(self, recipient: str, mobile: str, address: dict) -> None:
        self.recipient = recipient
        self.mobile = mobile
        self.address = address

    @event("Shipped")
    def ship(self, tracking_number: str, carrier: str, clerk_id: uuid.UUID) -> None:
        self.tracking_number = tracking_number

    @event("Delivered")
    def deliver(self) -> None:
        self.delivered = True
