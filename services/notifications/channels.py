"""The outside channels that reach holders: an SMS gateway over HTTP and an SMTP relay.

One `send` is one attempt. A transient `DeliveryFailed` asks the caller to try again
after `retry_delay`; a permanent one says a repeat would fail the same way. Each
attempt carries the message id (the gateway's Idempotency-Key, the mail's
Message-ID), so a repeat after a lost answer can be recognised: delivery is at least
once. Nothing here logs or raises a phone number, an address or a text.
"""

from __future__ import annotations

import logging
import re
import smtplib
import ssl
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime

import requests

logger = logging.getLogger(__name__)

MAX_RETRY_DELAY = 3600.0

# Message ids become a header value and the local part of a Message-ID.
MESSAGE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+=-]{0,199}")
MESSAGE_ID_DOMAIN = "xjcert"


class DeliveryFailed(Exception):
    """An attempt failed. `reason` is short and holds no personal data."""

    def __init__(self, reason: str, permanent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent

    def __repr__(self) -> str:
        return f"DeliveryFailed({self.reason!r}, permanent={self.permanent})"


class SmsGateway:
    """The SMS gateway's HTTP API: POST a JSON message with basic auth."""

    def __init__(
        self, url: str, username: str, password: str, timeout: float = 10.0
    ) -> None:
        self.url = url
        self.timeout = timeout
        self._session = requests.Session()
        self._session.auth = (username, password)

    def send(self, message_id: str, mobile: str, text: str) -> None:
        key = _checked_id(message_id)
        try:
            response = self._session.post(
                self.url,
                json={"message_id": message_id, "mobile": mobile, "text": text},
                headers={"Idempotency-Key": key},
                timeout=self.timeout,
                # A gateway that redirects is misconfigured; credentials stay here.
                allow_redirects=False,
            )
        except requests.Timeout:
            raise _failed(message_id, "gateway timed out") from None
        except requests.ConnectionError:
            raise _failed(message_id, "gateway unreachable") from None
        except requests.RequestException as error:
            raise _failed(
                message_id, f"request failed: {type(error).__name__}"
            ) from None
        _check_answer(message_id, response.status_code)
        logger.debug("sms %s accepted by the gateway", message_id)

    def close(self) -> None:
        self._session.close()


class SmtpMailer:
    """Plain-text UTF-8 mail through one SMTP relay, one connection per message."""

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        timeout: float = 10.0,
    ) -> None:
        self.host = host
        self.port = port
        self.sender = sender
        self.username = username
        self.password = password
        self.starttls = starttls
        self.timeout = timeout

    def send(self, message_id: str, to_address: str, subject: str, body: str) -> None:
        message = self._message(_checked_id(message_id), to_address, subject, body)
        try:
            refused = self._deliver(message)
        except smtplib.SMTPRecipientsRefused as error:
            code = min(code for code, _ in error.recipients.values())
            raise _by_code(message_id, "recipient refused", code) from None
        except smtplib.SMTPSenderRefused as error:
            raise _by_code(message_id, "sender refused", error.smtp_code) from None
        except smtplib.SMTPDataError as error:
            raise _by_code(message_id, "message refused", error.smtp_code) from None
        except smtplib.SMTPAuthenticationError as error:
            raise _by_code(message_id, "login refused", error.smtp_code) from None
        except smtplib.SMTPNotSupportedError:
            raise _failed(message_id, "relay lacks a needed extension", True) from None
        except smtplib.SMTPResponseException as error:
            raise _by_code(message_id, "relay answered", error.smtp_code) from None
        except smtplib.SMTPServerDisconnected:
            raise _failed(message_id, "relay disconnected") from None
        except TimeoutError:
            raise _failed(message_id, "relay timed out") from None
        except ConnectionRefusedError:
            raise _failed(message_id, "connection refused") from None
        except OSError as error:
            # Includes TLS errors and smtplib's own; their text may echo an address.
            raise _failed(message_id, f"relay failed: {type(error).__name__}") from None
        if refused:
            # Only when the To header named several addresses and not all failed.
            code = min(code for code, _ in refused.values())
            raise _by_code(message_id, "recipient refused", code)
        logger.debug("mail %s accepted by the relay", message_id)

    def _message(
        self, message_id: str, to_address: str, subject: str, body: str
    ) -> EmailMessage:
        message = EmailMessage()
        # The same id gives the same Message-ID, so a repeat can be told apart.
        message["Message-ID"] = f"<{message_id}@{MESSAGE_ID_DOMAIN}>"
        message["Date"] = format_datetime(datetime.now(UTC))
        try:
            message["From"] = self.sender
            message["To"] = to_address
            message["Subject"] = subject
        except ValueError:
            # A line break in an address or subject: no attempt would go better.
            raise _failed(message_id, "header malformed", permanent=True) from None
        # Base64 keeps Chinese text intact through relays without 8BITMIME.
        message.set_content(body, charset="utf-8", cte="base64")
        return message

    def _deliver(self, message: EmailMessage) -> dict[str, tuple[int, bytes]]:
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self.username is not None:
                smtp.login(self.username, self.password or "")
            return smtp.send_message(message)


def retry_delay(attempt: int, base_seconds: float) -> float:
    """Seconds to wait after the `attempt`-th failed attempt (counted from 1)."""
    if attempt < 1:
        raise ValueError(f"attempts are counted from 1, got {attempt}")
    if base_seconds < 0:
        raise ValueError(f"base delay must not be negative, got {base_seconds}")
    try:
        delay = base_seconds * 2.0 ** (attempt - 1)
    except OverflowError:
        return MAX_RETRY_DELAY
    return min(delay, MAX_RETRY_DELAY)


def _checked_id(message_id: str) -> str:
    if not MESSAGE_ID.fullmatch(message_id):
        raise ValueError(
            "a message id is letters, digits and . _ + = - (at most 200), "
            f"got {message_id!r:.60}"
        )
    return message_id


def _check_answer(message_id: str, status: int) -> None:
    if 200 <= status < 300:
        return
    # Too many requests and server errors pass; any other answer would repeat.
    permanent = status != 429 and status < 500
    raise _failed(message_id, f"gateway answered {status}", permanent)


def _by_code(message_id: str, what: str, code: int) -> DeliveryFailed:
    return _failed(message_id, f"{what} with {code}", permanent=code >= 500)


def _failed(message_id: str, reason: str, permanent: bool = False) -> DeliveryFailed:
    logger.debug(
        "%s %s: %s",
        message_id,
        "failed for good" if permanent else "failed for now",
        reason,
    )
    return DeliveryFailed(reason, permanent)
