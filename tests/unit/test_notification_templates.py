import re
import tomllib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.notifications.templates import (
    KEYS,
    PARAMETERS,
    RenderedMessage,
    TemplateError,
    Templates,
)

PACKAGED = Path(__file__).parents[2] / "services/notifications/templates.zh.toml"
ID_NUMBER = "65010219800101123X"
ANY_ID_NUMBER = re.compile(r"\d{17}[\dXx]")

SAMPLES = {
    "certificate_number": "2025650100001",
    "qualification_name": "经济专业技术资格",
    "message": "照片须为白底免冠一寸照片，请重新上传。",
    "period": "2026-12",
    "custody_until": "2030年10月20日",
    "days_left": "30",
    "window": "12月8日（星期二）10:00–10:30",
    "reason": "中心临时停止办公",
    "carrier": "中国邮政EMS",
    "tracking_number": "1190012345678",
    "deadline": "补办资料审核",
    "reference": "BB-2026-000123",
    "due_on": "2026年12月10日",
}


def sample_params(kind: str) -> dict[str, str]:
    return {name: SAMPLES[name] for name in PARAMETERS[kind]}


def packaged_tables() -> dict:
    return tomllib.loads(PACKAGED.read_text(encoding="utf-8"))


def write_tables(path: Path, tables: dict) -> Path:
    lines = []
    for kind, table in tables.items():
        lines.append(f"[{kind}]")
        lines += [f"{key} = {_toml_string(text)}" for key, text in table.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _toml_string(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def test_the_packaged_file_loads_with_every_kind():
    templates = Templates.default()

    assert templates.kinds == frozenset(PARAMETERS)


@pytest.mark.parametrize("kind", sorted(PARAMETERS))
def test_every_kind_renders_every_parameter_into_the_inbox(kind):
    params = sample_params(kind)

    message = Templates.default().render(kind, params)

    assert isinstance(message, RenderedMessage)
    for key in KEYS:
        text = getattr(message, key)
        assert text.strip(), f"{kind} {key} is empty"
        assert "{" not in text and "}" not in text, f"{kind} {key}: {text}"
    for name, value in params.items():
        assert value in message.inbox, f"{kind} inbox lacks {name}"
    assert message.sms.startswith("【新疆人事考试】")


def test_a_returned_reissue_carries_the_reviewers_message():
    params = sample_params("reissue_returned")

    message = Templates.default().render("reissue_returned", params)

    assert message.title == "补办申请已退回"
    assert params["message"] in message.email_body
    assert "重新提交" in message.sms
    assert message.email_subject == "证书补办申请已退回：经济专业技术资格"


def test_an_unknown_kind_is_named():
    with pytest.raises(TemplateError, match="unknown notification kind 'exam_passed'"):
        Templates.default().render("exam_passed", {})


def test_a_missing_parameter_is_named_with_its_kind():
    params = sample_params("custody_ending_soon")
    del params["days_left"]

    with pytest.raises(TemplateError, match="custody_ending_soon needs.*days_left"):
        Templates.default().render("custody_ending_soon", params)


def test_a_parameter_that_is_not_text_is_refused():
    params = {**sample_params("custody_ending_soon"), "days_left": 30}

    with pytest.raises(TemplateError, match="days_left of custody_ending_soon.*int"):
        Templates.default().render("custody_ending_soon", params)


def test_extra_parameters_are_ignored():
    params = {**sample_params("appointment_booked"), "holder_id": "h-1"}

    message = Templates.default().render("appointment_booked", params)

    assert "h-1" not in message.inbox


def test_an_operators_file_is_used(tmp_path):
    tables = packaged_tables()
    tables["mail_shipped"]["title"] = "您的证书在路上了（{carrier}）"
    path = write_tables(tmp_path / "ours.toml", tables)

    message = Templates.from_file(path).render(
        "mail_shipped", sample_params("mail_shipped")
    )

    assert message.title == "您的证书在路上了（中国邮政EMS）"


def test_a_file_missing_a_key_names_the_kind_and_key(tmp_path):
    tables = packaged_tables()
    del tables["mail_shipped"]["sms"]
    path = write_tables(tmp_path / "broken.toml", tables)

    with pytest.raises(TemplateError, match=r"\[mail_shipped\] lacks keys: sms"):
        Templates.from_file(path)


def test_an_unknown_placeholder_names_kind_key_and_placeholder(tmp_path):
    tables = packaged_tables()
    tables["appointment_booked"]["inbox"] = "{holder_name}，您已预约 {window}。"
    path = write_tables(tmp_path / "broken.toml", tables)

    with pytest.raises(TemplateError) as raised:
        Templates.from_file(path)

    assert str(raised.value) == (
        f"{path}: [appointment_booked] inbox uses unknown placeholder "
        "{holder_name}; appointment_booked has: window"
    )


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("您已预约 {window", "is not a valid template"),
        ("您已预约 {}", "unknown placeholder {}"),
        ("您已预约 {window!r}", "formats {window}"),
        ("您已预约 {window:>30}", "formats {window}"),
        ("您已预约 {window.upper}", "unknown placeholder {window.upper}"),
    ],
)
def test_a_malformed_text_is_refused(tmp_path, text, complaint):
    tables = packaged_tables()
    tables["appointment_booked"]["sms"] = text
    path = write_tables(tmp_path / "broken.toml", tables)

    with pytest.raises(TemplateError, match=r"\[appointment_booked\] sms") as raised:
        Templates.from_file(path)

    assert complaint in str(raised.value)


def test_a_file_missing_a_kind_names_it(tmp_path):
    tables = packaged_tables()
    tables["appointment_rebooked"] = tables.pop("appointment_moved")
    path = write_tables(tmp_path / "broken.toml", tables)

    with pytest.raises(TemplateError, match="lacks kinds: appointment_moved"):
        Templates.from_file(path)


def test_an_unknown_kind_in_a_file_is_named(tmp_path):
    tables = {**packaged_tables(), "exam_passed": packaged_tables()["mail_shipped"]}
    path = write_tables(tmp_path / "broken.toml", tables)

    with pytest.raises(TemplateError, match="unknown kinds: exam_passed"):
        Templates.from_file(path)


def test_an_unknown_key_is_named(tmp_path):
    tables = packaged_tables()
    tables["custody_expired"]["emial_body"] = "typo"
    path = write_tables(tmp_path / "broken.toml", tables)

    with pytest.raises(TemplateError, match=r"\[custody_expired\].*emial_body"):
        Templates.from_file(path)


def test_a_file_that_is_not_toml_or_not_there_is_named(tmp_path):
    broken = tmp_path / "broken.toml"
    broken.write_text("[mail_shipped\n", encoding="utf-8")

    with pytest.raises(TemplateError, match=f"{broken} is not valid TOML"):
        Templates.from_file(broken)
    with pytest.raises(TemplateError, match="missing.toml cannot be read"):
        Templates.from_file(tmp_path / "missing.toml")


def test_an_id_number_in_a_parameter_never_reaches_the_sms():
    params = {**sample_params("mail_shipped"), "tracking_number": ID_NUMBER}

    message = Templates.default().render("mail_shipped", params)

    assert ID_NUMBER not in message.sms
    assert "**************123X" in message.sms
    # Only the SMS is masked: the inbox and mail are the holder's own to read.
    assert ID_NUMBER in message.inbox


def test_a_lowercase_check_character_is_masked_too():
    params = {**sample_params("mail_shipped"), "tracking_number": ID_NUMBER.lower()}

    message = Templates.default().render("mail_shipped", params)

    assert "**************123x" in message.sms


@pytest.fixture(scope="module")
def message_in_sms(tmp_path_factory) -> Templates:
    tables = packaged_tables()
    tables["reissue_returned"]["sms"] = "【新疆人事考试】{message}"
    path = tmp_path_factory.mktemp("templates") / "sms.toml"
    return Templates.from_file(write_tables(path, tables))


@given(
    before=st.text(alphabet="0123456789Xx 号码：abc", max_size=30),
    digits=st.text(alphabet="0123456789", min_size=17, max_size=40),
    check=st.sampled_from("0123456789Xx"),
    after=st.text(alphabet="0123456789Xx 号码：abc", max_size=30),
)
def test_no_id_number_shape_survives_in_any_sms(
    message_in_sms, before, digits, check, after
):
    params = {
        **sample_params("reissue_returned"),
        "message": before + digits + check + after,
    }

    sms = message_in_sms.render("reissue_returned", params).sms

    assert ANY_ID_NUMBER.search(sms) is None, sms
