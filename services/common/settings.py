"""Settings every service reads once from the environment into one typed object."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from urllib.parse import unquote, urlsplit

DEFAULT_AMQP_URI = "amqp://guest:guest@127.0.0.1:5672/"
DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/xjcert"
DEFAULT_POSTAGE_NOTICE = (
    "邮寄证书的邮费由申请人自理，以到付方式收取。中心在收到申请后 3 个工作日内寄出，"
    "寄出后可凭运单号查询。"
)

DEFAULT_VERIFICATION_URL = "http://127.0.0.1:8080/verify"

# Each service's HTTP API (read models, commands, /metrics) listens on its own port.
DEFAULT_HTTP_PORTS = {
    "identity": 8001,
    "certificates": 8002,
    "reissue": 8003,
    "distribution": 8004,
    "notifications": 8005,
}


class SettingError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


@dataclass(frozen=True)
class DatabaseAddress:
    host: str
    port: int
    user: str
    password: str
    dbname: str

    @classmethod
    def from_url(cls, url: str) -> DatabaseAddress:
        parts = urlsplit(url)
        if parts.scheme not in {"postgresql", "postgres"} or not parts.path[1:]:
            raise SettingError(
                "XJCERT_DATABASE_URL must look like "
                f"postgresql://user:password@host:port/dbname, got scheme "
                f"{parts.scheme!r}"
            )
        try:
            port = parts.port or 5432
        except ValueError:
            raise SettingError(
                "XJCERT_DATABASE_URL has a port that is not a number from 1 to 65535"
            ) from None
        return cls(
            host=parts.hostname or "127.0.0.1",
            port=port,
            user=unquote(parts.username or "postgres"),
            password=unquote(parts.password or ""),
            dbname=parts.path[1:],
        )

    def conninfo(self, dbname: str | None = None) -> str:
        fields = {
            "host": self.host,
            "port": str(self.port),
            "user": self.user,
            "dbname": dbname or self.dbname,
            "connect_timeout": "5",
        }
        if self.password:
            fields["password"] = self.password
        return " ".join(f"{key}='{value}'" for key, value in fields.items())

    def __str__(self) -> str:
        return f"{self.host}:{self.port}/{self.dbname}"


@dataclass(frozen=True)
class Secrets:
    """Secrets, each read from the file its `XJCERT_<NAME>_FILE` variable names.

    Files suit Kubernetes Secrets mounted as volumes and keep secrets out of the
    process environment. A service asks only for the secrets it uses.
    """

    files: dict[str, str]

    def read(self, name: str) -> bytes:
        variable = _secret_variable(name)
        path = self.files.get(variable)
        if not path:
            raise SettingError(f"{variable} must name the file that holds the {name}")
        try:
            with open(path, "rb") as file:
                return file.read().strip()
        except OSError as error:
            raise SettingError(
                f"{variable} names {path}, which cannot be read: {error.strerror}"
            ) from None

    def text(self, name: str) -> str:
        return self.read(name).decode("ascii")


SECRET_NAMES = (
    "event_cipher_key",
    "lookup_key",
    "token_private_key",
    "token_public_key",
    # The centre's key and certificate for signing electronic certificates (PEM).
    "ecert_signing_key",
    "ecert_signing_certificate",
    # Notifications' outside channels, read only when the channel is configured.
    "sms_gateway_password",
    "smtp_password",
)


@dataclass(frozen=True)
class PickupSettings:
    """How the centre's pickup days are cut into windows (administrators set these)."""

    window_minutes: int
    capacity: int
    summer_starts: tuple[int, int]  # (month, day); summer hours until summer_ends
    summer_ends: tuple[int, int]
    horizon_days: int  # how far ahead holders may book


@dataclass(frozen=True)
class NotificationSettings:
    """How notifications reach holders besides the in-app inbox."""

    sms_gateway_url: str | None  # None: no SMS is sent
    sms_gateway_username: str
    smtp_host: str | None  # None: no e-mail is sent
    smtp_port: int
    smtp_sender: str
    smtp_username: str | None
    smtp_starttls: bool
    # A failed delivery waits retry_base_seconds, then twice as long each time,
    # and is given up (shown as failed) after max_attempts.
    retry_base_seconds: int
    max_attempts: int
    # Holders are reminded of an appointment the day before, at this hour.
    appointment_reminder_hour: int
    # How often reminders and overdue checks run (once per period, whatever
    # the number of replicas).
    sweep_seconds: int
    templates_file: str | None  # None: the packaged Chinese templates
    # A replica holds the deliveries it is sending this long; if it dies, another
    # sends them once the claim lapses. Longer than a batch of sends can take.
    claim_seconds: int = 120


@dataclass(frozen=True)
class Settings:
    amqp_uri: str
    database: DatabaseAddress
    http_host: str
    http_ports: dict[str, int]
    log_level: str
    max_workers: int
    relay_batch_size: int
    ingest_batch_size: int
    max_delivery_attempts: int
    secrets: Secrets
    realname_service_url: str | None
    pickup: PickupSettings
    postage_notice: str
    # Day of the month on which the month's reissue batch to the ministry closes.
    batch_closing_day: int
    # The public verification page that each e-certificate's QR code points at.
    verification_url: str
    notifications: NotificationSettings
    # The working-day calendar; None is the packaged file. Operators point this at
    # a corrected copy when the region announces its days.
    calendar_file: str | None = None
    # Moves the scheduled jobs' "today" forward by this many days, for rehearsing
    # what happens on a later day. Never set in production.
    clock_shift_days: int = 0
    # How often distribution watches custody for reminders and expiry.
    custody_sweep_seconds: int = 3600

    def http_port(self, service: str) -> int:
        return self.http_ports[service]

    @property
    def amqp_address(self) -> str:
        parts = urlsplit(self.amqp_uri)
        return f"{parts.hostname or '127.0.0.1'}:{parts.port or 5672}"


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    ports = {
        service: _integer(env, f"XJCERT_{service.upper()}_HTTP_PORT", default)
        for service, default in DEFAULT_HTTP_PORTS.items()
    }
    return Settings(
        amqp_uri=env.get("XJCERT_AMQP_URI", DEFAULT_AMQP_URI),
        database=DatabaseAddress.from_url(
            env.get("XJCERT_DATABASE_URL", DEFAULT_DATABASE_URL)
        ),
        http_host=env.get("XJCERT_HTTP_HOST", "127.0.0.1"),
        http_ports=ports,
        log_level=env.get("XJCERT_LOG_LEVEL", "INFO").upper(),
        max_workers=_integer(env, "XJCERT_MAX_WORKERS", 10),
        relay_batch_size=_integer(env, "XJCERT_RELAY_BATCH_SIZE", 500),
        ingest_batch_size=_integer(env, "XJCERT_INGEST_BATCH_SIZE", 1000),
        max_delivery_attempts=_integer(env, "XJCERT_MAX_DELIVERY_ATTEMPTS", 5),
        secrets=Secrets(
            {
                f"XJCERT_{name.upper()}_FILE": env.get(
                    f"XJCERT_{name.upper()}_FILE", ""
                )
                for name in SECRET_NAMES
            }
        ),
        realname_service_url=env.get("XJCERT_REALNAME_SERVICE_URL") or None,
        pickup=PickupSettings(
            window_minutes=_integer(env, "XJCERT_PICKUP_WINDOW_MINUTES", 30),
            capacity=_integer(env, "XJCERT_PICKUP_CAPACITY", 20),
            summer_starts=_month_day(env, "XJCERT_SUMMER_STARTS", "05-01"),
            summer_ends=_month_day(env, "XJCERT_SUMMER_ENDS", "09-30"),
            horizon_days=_integer(env, "XJCERT_PICKUP_HORIZON_DAYS", 30),
        ),
        postage_notice=env.get("XJCERT_POSTAGE_NOTICE") or DEFAULT_POSTAGE_NOTICE,
        batch_closing_day=_day_of_month(env, "XJCERT_REISSUE_BATCH_CLOSING_DAY", 25),
        verification_url=env.get("XJCERT_VERIFICATION_URL") or DEFAULT_VERIFICATION_URL,
        notifications=_notification_settings(env),
        calendar_file=env.get("XJCERT_CALENDAR_FILE") or None,
        clock_shift_days=_shift(env, "XJCERT_CLOCK_SHIFT_DAYS"),
        custody_sweep_seconds=_integer(env, "XJCERT_CUSTODY_SWEEP_SECONDS", 3600),
    )


def _notification_settings(
    env: dict[str, str] | os._Environ[str],
) -> NotificationSettings:
    raw_hour = env.get("XJCERT_APPOINTMENT_REMINDER_HOUR") or "10"
    if not raw_hour.isdigit() or not 0 <= int(raw_hour) <= 23:
        raise SettingError(
            "XJCERT_APPOINTMENT_REMINDER_HOUR must be an hour from 0 to 23, "
            f"got {raw_hour!r}"
        )
    hour = int(raw_hour)
    return NotificationSettings(
        sms_gateway_url=env.get("XJCERT_SMS_GATEWAY_URL") or None,
        sms_gateway_username=env.get("XJCERT_SMS_GATEWAY_USERNAME", "xjcert"),
        smtp_host=env.get("XJCERT_SMTP_HOST") or None,
        smtp_port=_integer(env, "XJCERT_SMTP_PORT", 25),
        smtp_sender=env.get("XJCERT_SMTP_SENDER", "noreply@xjrsks.example"),
        smtp_username=env.get("XJCERT_SMTP_USERNAME") or None,
        smtp_starttls=env.get("XJCERT_SMTP_STARTTLS", "").lower()
        in {"1", "yes", "true"},
        retry_base_seconds=_integer(env, "XJCERT_NOTIFY_RETRY_BASE_SECONDS", 30),
        max_attempts=_integer(env, "XJCERT_NOTIFY_MAX_ATTEMPTS", 6),
        appointment_reminder_hour=hour,
        sweep_seconds=_integer(env, "XJCERT_NOTIFY_SWEEP_SECONDS", 60),
        templates_file=env.get("XJCERT_NOTIFICATION_TEMPLATES") or None,
        claim_seconds=_integer(env, "XJCERT_NOTIFY_CLAIM_SECONDS", 120),
    )


def _shift(env: dict[str, str] | os._Environ[str], name: str) -> int:
    raw = env.get(name) or "0"
    try:
        return int(raw)
    except ValueError:
        raise SettingError(
            f"{name} must be a whole number of days, got {raw!r}"
        ) from None


def _day_of_month(
    env: dict[str, str] | os._Environ[str], name: str, default: int
) -> int:
    value = _integer(env, name, default)
    # Every month has a 28th; a later day would skip February.
    if not 1 <= value <= 28:
        raise SettingError(f"{name} must be a day from 1 to 28, got {value}")
    return value


def _integer(env: dict[str, str] | os._Environ[str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingError(f"{name} must be a whole number, got {raw!r}") from None
    if value <= 0:
        raise SettingError(f"{name} must be positive, got {value}")
    return value


def _secret_variable(name: str) -> str:
    return f"XJCERT_{name.upper()}_FILE"


def _month_day(
    env: dict[str, str] | os._Environ[str], name: str, default: str
) -> tuple[int, int]:
    raw = env.get(name) or default
    try:
        month, day = (int(part) for part in raw.split("-"))
        date(2024, month, day)  # a leap year, so 02-29 is allowed
    except ValueError:
        raise SettingError(
            f"{name} must be a month and day like 05-01, got {raw!r}"
        ) from None
    return month, day
