"""python -m services.portal: serve the portal's pages and pass its API calls on.

Settings:
- XJCERT_PORTAL_HTTP_PORT: the port (8080).
- XJCERT_SERVICE_GUIDE: the service guide, a JSON file (default: the pages'
  guide.zh.json).
- XJCERT_PORTAL_PAGES: the directory of the pages (default: portal/ beside the
  code; the image sets it).
- XJCERT_PORTAL_PASS_API: "false" where an ingress routes the API (Kubernetes);
  then /v1 paths are answered 404 here.
"""

from __future__ import annotations

import eventlet

# The gateway waits on the services with `requests`: green sockets let one
# process serve many pages and calls at once.
eventlet.monkey_patch()

import os  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

from eventlet import wsgi  # noqa: E402

from services.common.settings import SettingError, load_settings  # noqa: E402
from services.portal.gateway import DEFAULT_PAGES, Gateway  # noqa: E402


def main() -> None:
    try:
        settings = load_settings()
        gateway = Gateway(
            settings,
            guide_file=os.environ.get("XJCERT_SERVICE_GUIDE"),
            pages=Path(os.environ.get("XJCERT_PORTAL_PAGES") or DEFAULT_PAGES),
            pass_api=_flag(os.environ.get("XJCERT_PORTAL_PASS_API", "true")),
        )
    except SettingError as error:
        sys.exit(f"portal: {error}")
    port = int(os.environ.get("XJCERT_PORTAL_HTTP_PORT") or 8080)
    listener = eventlet.listen((settings.http_host, port))
    print(f"portal: http://{settings.http_host}:{port}/", flush=True)
    wsgi.server(listener, gateway, log_output=False)


def _flag(value: str) -> bool:
    if value.lower() in ("true", "1", "yes"):
        return True
    if value.lower() in ("false", "0", "no"):
        return False
    raise SettingError(f"XJCERT_PORTAL_PASS_API: {value!r} is neither true nor false")


if __name__ == "__main__":
    main()
