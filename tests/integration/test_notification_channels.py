import logging
import socket
import uuid
from email.utils import parsedate_to_datetime

import pytest

from services.notifications.channels import (
    MAX_RETRY_DELAY,
    DeliveryFailed,
    SmsGateway,
    SmtpMailer,
    retry_delay,
)
from tests.support.processes import free_port
from tests.support.sms_gateway import SmsGatewayStandIn
from tests.support.smtp_sink import SmtpSink

MOBILE = "13912345678"
SMS_TEXT = "【新疆人事考试】您的经济专业技术资格证书已可领取，请登录平台预约领取。"
SENDER = "新疆维吾尔自治区人事考试中心 <noreply@xjcert.example>"
SUBJECT = "证书可以领取了：经济专业技术资格"
BODY = "您好：\n\n您的经济专业技术资格证书（证书编号 2025650100001）已可领取。\n"


@pytest.fixture(scope="module")
def gateway_stand_in(tmp_path_factory):
    with SmsGatewayStandIn(tmp_path_factory.mktemp("sms")) as stand_in:
        yield stand_in


@pytest.fixture(scope="module")
def sink(tmp_path_factory):
    with SmtpSink(tmp_path_factory.mktemp("smtp")) as sink:
        yield sink


@pytest.fixture
def gateway(gateway_stand_in):
    gateway = SmsGateway(
        gateway_stand_in.url, gateway_stand_in.username, gateway_stand_in.password
    )
    yield gateway
    gateway.close()


def new_id() -> str:
    return str(uuid.uuid4())


def received_with(stand_in: SmsGatewayStandIn, message_id: str) -> list[dict]:
    return [entry for entry in stand_in.received() if entry["message_id"] == message_id]


def refused_with(stand_in: SmsGatewayStandIn, message_id: str) -> list[dict]:
    return [e for e in stand_in.refused() if e["idempotency_key"] == message_id]


def mails_with(sink: SmtpSink, message_id: str) -> list:
    return [m for m in sink.messages() if m["Message-ID"] == f"<{message_id}@xjcert>"]


def test_an_sms_reaches_the_gateway_with_its_idempotency_key(gateway_stand_in, gateway):
    message_id = new_id()

    gateway.send(message_id, MOBILE, SMS_TEXT)

    assert received_with(gateway_stand_in, message_id) == [
        {
            "message_id": message_id,
            "mobile": MOBILE,
            "text": SMS_TEXT,
            "idempotency_key": message_id,
        }
    ]


@pytest.mark.parametrize("status", [429, 500, 502, 503])
def test_a_busy_or_failing_gateway_is_transient(gateway_stand_in, gateway, status):
    message_id = new_id()
    gateway_stand_in.fail_next(1, status=status)

    with pytest.raises(DeliveryFailed) as raised:
        gateway.send(message_id, MOBILE, SMS_TEXT)

    assert raised.value.reason == f"gateway answered {status}"
    assert raised.value.permanent is False
    assert received_with(gateway_stand_in, message_id) == []
    assert [e["status"] for e in refused_with(gateway_stand_in, message_id)] == [status]


def test_a_retry_after_a_503_delivers_once(gateway_stand_in, gateway):
    message_id = new_id()
    gateway_stand_in.fail_next(2)

    for _ in range(2):
        with pytest.raises(DeliveryFailed):
            gateway.send(message_id, MOBILE, SMS_TEXT)
    gateway.send(message_id, MOBILE, SMS_TEXT)

    assert len(refused_with(gateway_stand_in, message_id)) == 2
    assert len(received_with(gateway_stand_in, message_id)) == 1


@pytest.mark.parametrize("status", [400, 403, 404, 422])
def test_a_refusal_by_the_gateway_is_permanent(gateway_stand_in, gateway, status):
    gateway_stand_in.fail_next(1, status=status)

    with pytest.raises(DeliveryFailed) as raised:
        gateway.send(new_id(), MOBILE, SMS_TEXT)

    assert raised.value.reason == f"gateway answered {status}"
    assert raised.value.permanent is True


def test_a_wrong_password_is_permanent_and_nothing_is_sent(gateway_stand_in):
    message_id = new_id()
    gateway = SmsGateway(gateway_stand_in.url, gateway_stand_in.username, "wrong")

    with pytest.raises(DeliveryFailed) as raised:
        gateway.send(message_id, MOBILE, SMS_TEXT)

    assert (raised.value.reason, raised.value.permanent) == (
        "gateway answered 401",
        True,
    )
    assert received_with(gateway_stand_in, message_id) == []
    assert [e["status"] for e in refused_with(gateway_stand_in, message_id)] == [401]


def test_an_unreachable_gateway_is_transient():
    gateway = SmsGateway(f"http://127.0.0.1:{free_port()}/messages", "u", "p")

    with pytest.raises(DeliveryFailed) as raised:
        gateway.send(new_id(), MOBILE, SMS_TEXT)

    assert (raised.value.reason, raised.value.permanent) == (
        "gateway unreachable",
        False,
    )


def test_a_gateway_that_never_answers_times_out_as_transient():
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/messages"
        gateway = SmsGateway(url, "u", "p", timeout=0.5)

        with pytest.raises(DeliveryFailed) as raised:
            gateway.send(new_id(), MOBILE, SMS_TEXT)

    assert (raised.value.reason, raised.value.permanent) == ("gateway timed out", False)


def test_a_message_id_that_cannot_be_a_header_is_refused_before_sending(gateway):
    with pytest.raises(ValueError, match="message id"):
        gateway.send("id\r\nX-Injected: 1", MOBILE, SMS_TEXT)


def test_a_mail_arrives_in_utf8_with_a_deterministic_message_id(sink):
    message_id = new_id()
    mailer = SmtpMailer("127.0.0.1", sink.port, SENDER)

    mailer.send(message_id, "holder@example.cn", SUBJECT, BODY)
    mailer.send(message_id, "holder@example.cn", SUBJECT, BODY)

    first, repeat = mails_with(sink, message_id)
    assert first["Subject"] == SUBJECT
    assert first["From"] == SENDER
    assert first["To"] == "holder@example.cn"
    assert first.get_content_type() == "text/plain"
    assert first.get_content_charset() == "utf-8"
    assert first.get_content() == BODY
    assert parsedate_to_datetime(first["Date"]).tzinfo is not None
    assert repeat["Message-ID"] == first["Message-ID"]


def test_a_refused_recipient_is_permanent(sink):
    message_id = new_id()
    mailer = SmtpMailer("127.0.0.1", sink.port, SENDER)

    with pytest.raises(DeliveryFailed) as raised:
        mailer.send(message_id, "holder@refused.invalid", SUBJECT, BODY)

    assert raised.value.reason == "recipient refused with 550"
    assert raised.value.permanent is True
    assert mails_with(sink, message_id) == []


def test_a_deferred_recipient_is_transient(sink):
    mailer = SmtpMailer("127.0.0.1", sink.port, SENDER)

    with pytest.raises(DeliveryFailed) as raised:
        mailer.send(new_id(), "holder@deferred.invalid", SUBJECT, BODY)

    assert (raised.value.reason, raised.value.permanent) == (
        "recipient refused with 451",
        False,
    )


def test_an_unreachable_relay_is_transient():
    mailer = SmtpMailer("127.0.0.1", free_port(), SENDER)

    with pytest.raises(DeliveryFailed) as raised:
        mailer.send(new_id(), "holder@example.cn", SUBJECT, BODY)

    assert (raised.value.reason, raised.value.permanent) == (
        "connection refused",
        False,
    )


def test_an_address_with_a_line_break_is_permanent(sink):
    mailer = SmtpMailer("127.0.0.1", sink.port, SENDER)

    with pytest.raises(DeliveryFailed) as raised:
        mailer.send(new_id(), "holder@example.cn\r\nBcc: x@example.cn", SUBJECT, BODY)

    assert (raised.value.reason, raised.value.permanent) == ("header malformed", True)


def test_a_relay_that_requires_login_takes_the_right_one_only(tmp_path):
    with SmtpSink(tmp_path, username="xjcert", password="s3cret") as guarded:
        message_id = new_id()
        good = SmtpMailer("127.0.0.1", guarded.port, SENDER, "xjcert", "s3cret")
        bad = SmtpMailer("127.0.0.1", guarded.port, SENDER, "xjcert", "guess")
        anonymous = SmtpMailer("127.0.0.1", guarded.port, SENDER)

        good.send(message_id, "holder@example.cn", SUBJECT, BODY)
        with pytest.raises(DeliveryFailed) as refused_login:
            bad.send(new_id(), "holder@example.cn", SUBJECT, BODY)
        with pytest.raises(DeliveryFailed) as no_login:
            anonymous.send(new_id(), "holder@example.cn", SUBJECT, BODY)

        assert [m["Message-ID"] for m in guarded.messages()] == [
            f"<{message_id}@xjcert>"
        ]
    assert (refused_login.value.reason, refused_login.value.permanent) == (
        "login refused with 535",
        True,
    )
    assert no_login.value.permanent is True
    assert no_login.value.reason.endswith("with 530")


def test_no_personal_data_in_reasons_or_logs(sink, gateway_stand_in, gateway, caplog):
    caplog.set_level(logging.DEBUG, logger="services.notifications.channels")
    mailer = SmtpMailer("127.0.0.1", sink.port, SENDER)
    reasons = []

    gateway.send(new_id(), MOBILE, SMS_TEXT)
    gateway_stand_in.fail_next(1, status=400)
    for attempt in (
        lambda: gateway.send(new_id(), MOBILE, SMS_TEXT),
        lambda: mailer.send(new_id(), "holder@refused.invalid", SUBJECT, BODY),
    ):
        with pytest.raises(DeliveryFailed) as raised:
            attempt()
        reasons.append(raised.value.reason)
    mailer.send(new_id(), "holder@example.cn", SUBJECT, BODY)

    said = caplog.text + "\n".join(reasons)
    assert caplog.records, "expected debug records to check"
    for personal in (MOBILE, "holder@", "经济", "证书"):
        assert personal not in said


def test_a_stopped_stand_in_leaves_no_process(tmp_path):
    stand_in = SmsGatewayStandIn(tmp_path / "sms").start()
    sink = SmtpSink(tmp_path / "smtp").start()

    stand_in.stop()
    sink.stop()

    assert stand_in.process.returncode == 0
    assert sink.process.returncode == 0


@pytest.mark.parametrize(
    ("attempt", "expected"),
    [(1, 30.0), (2, 60.0), (3, 120.0), (7, 1920.0), (8, MAX_RETRY_DELAY)],
)
def test_retry_delay_doubles_from_the_base_up_to_an_hour(attempt, expected):
    assert retry_delay(attempt, 30.0) == expected


def test_retry_delay_holds_at_an_hour_however_many_attempts():
    assert retry_delay(10_000, 30.0) == 3600.0


def test_retry_delay_counts_attempts_from_one():
    with pytest.raises(ValueError, match="counted from 1"):
        retry_delay(0, 30.0)
