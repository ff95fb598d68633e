"""The optional outside real-name verification service, called over HTTP.

Off unless XJCERT_REALNAME_SERVICE_URL is set. It receives a name and ID number and
answers whether they belong together. It is retried briefly; when it is down the
applicant is told to try again later, and nothing is recorded.
"""

from __future__ import annotations

import logging

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from services.common.errors import Invalid, Unavailable

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = (3, 5)  # connect, read


class RealNameService:
    def __init__(self, url: str, session: requests.Session | None = None) -> None:
        self.url = url
        self.session = session or requests.Session()
        retries = Retry(
            total=2,
            backoff_factor=0.3,
            status_forcelist=(502, 503, 504),
            allowed_methods=frozenset({"POST"}),
        )
        self.session.mount(url, HTTPAdapter(max_retries=retries))

    def confirm(self, name: str, id_number: str) -> None:
        """Return if name and number belong together; refuse otherwise."""
        try:
            response = self.session.post(
                self.url,
                json={"name": name, "id_number": id_number},
                timeout=TIMEOUT_SECONDS,
            )
            response.raise_for_status()
            matches = response.json()["match"]
        except (requests.RequestException, ValueError, KeyError, TypeError) as error:
            log.warning("real-name service unavailable: %s", type(error).__name__)
            raise Unavailable(
                "verification_unavailable",
                "实名核验服务暂时不可用，请稍后再试。",
            ) from None
        if matches is not True:
            raise Invalid(
                "real_name_mismatch", "姓名与证件号码不一致，请核对后重新提交。"
            )
