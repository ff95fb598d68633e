"""What other services (and distribution's own read models) see of its events."""

from __future__ import annotations

from services.common.relay import Published, publishing
from services.distribution.domain import Booking, Custody, MailOrder

PUBLISHED: Published = {
    Custody.Opened: (
        "custody_opened",
        (
            "certificate_number",
            "holder_id_number",
            "holder_name",
            "custody_until",
            "reissued",
        ),
    ),
    Custody.Booked: ("custody_booked", ("booking_id", "starts_at", "ends_at")),
    Custody.Released: ("custody_released", ("reason",)),
    Custody.Collected: ("custody_collected", ("booking_id", "collected_by")),
    Custody.MailRequested: ("custody_mail_requested", ("order_id", "ship_by")),
    Custody.Shipped: ("custody_shipped", ("order_id", "tracking_number")),
    Custody.Delivered: ("custody_delivered", ("order_id",)),
    Custody.EndingSoon: ("custody_ending_soon", ("days_left",)),
    Custody.Expired: ("custody_expired", ()),
    Custody.Reissued: ("custody_reissued", ("application_id", "custody_until")),
    Booking.Made: (
        "booking_made",
        ("account_id", "certificate_numbers", "starts_at", "ends_at"),
    ),
    Booking.Moved: ("booking_moved", ("starts_at", "ends_at")),
    Booking.Cancelled: ("booking_cancelled", ("reason",)),
    Booking.Lapsed: ("booking_lapsed", ()),
    # The counter compares the proxy's document with the name and the number's
    # last characters; the whole number stays in the event store.
    Booking.ProxyNamed: ("booking_proxy_named", ("name", "id_number_ends_with")),
    Booking.HandedOver: ("booking_handed_over", ("collected_by",)),
    MailOrder.Requested: (
        "mail_requested",
        (
            "account_id",
            "certificate_numbers",
            "recipient",
            "mobile",
            "address",
            "ship_by",
        ),
    ),
    MailOrder.Edited: ("mail_edited", ("recipient", "mobile", "address")),
    MailOrder.Shipped: ("mail_shipped", ("tracking_number", "carrier")),
    MailOrder.Delivered: ("mail_order_delivered", ()),
}

publication = publishing(PUBLISHED)
