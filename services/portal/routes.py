"""Which service answers which path of the HTTP API.

The portal's gateway (`make run`) and the Kubernetes ingress route alike: the
longest matching prefix wins. tests/deploy checks the ingress against this table.
"""

from __future__ import annotations

ROUTES: dict[str, str] = {
    "/v1/accounts": "identity",
    "/v1/sessions": "identity",
    "/v1/me": "identity",
    "/v1/me/certificates": "certificates",
    "/v1/staff/ecerts": "certificates",
    "/v1/admin/ecert-signing": "certificates",
    "/v1/admin/certificates": "certificates",
    "/v1/verification": "certificates",
    "/v1/reissue": "reissue",
    "/v1/me/reissue": "reissue",
    "/v1/review": "reissue",
    "/v1/admin/reissue": "reissue",
    "/v1/staff/reissue": "reissue",
    "/v1/pickup": "distribution",
    "/v1/bookings": "distribution",
    "/v1/me/bookings": "distribution",
    "/v1/mail": "distribution",
    "/v1/mail-orders": "distribution",
    "/v1/me/mail-orders": "distribution",
    "/v1/counter": "distribution",
    "/v1/shipping": "distribution",
    "/v1/admin/pickup-days": "distribution",
    "/v1/me/notices": "notifications",
    "/v1/me/notification-channels": "notifications",
    "/v1/staff/notices": "notifications",
    "/v1/staff/deadlines": "notifications",
    "/v1/admin/notifications": "notifications",
}


def service_for(path: str) -> str | None:
    """The service answering `path`, by the longest prefix that matches whole
    segments; None when no service does."""
    best = None
    for prefix, service in ROUTES.items():
        if (path == prefix or path.startswith(prefix + "/")) and (
            best is None or len(prefix) > len(best[0])
        ):
            best = (prefix, service)
    return best[1] if best else None
