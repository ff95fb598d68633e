"""python -m services.portal: serve the portal and pass its API calls on.

Listens on XJCERT_PORTAL_HTTP_PORT (8080); the service guide comes from
XJCERT_SERVICE_GUIDE (a JSON file), by default portal/guide.zh.json.
"""

from __future__ import annotations

import os
import sys

from werkzeug.serving import run_simple

from services.common.settings import SettingError, load_settings
from services.portal.gateway import Gateway


def main() -> None:
    try:
        settings = load_settings()
    except SettingError as error:
        sys.exit(f"portal: {error}")
    port = int(os.environ.get("XJCERT_PORTAL_HTTP_PORT") or 8080)
    gateway = Gateway(settings, os.environ.get("XJCERT_SERVICE_GUIDE"))
    run_simple(settings.http_host, port, gateway, threaded=True)


if __name__ == "__main__":
    main()
