import pytest

from tests.support.privacy import assert_no_personal_data


@pytest.mark.parametrize(
    "line",
    [
        '{"message": "verified 650102199308052190"}',
        '{"message": "id 11010519491231002x"}',
        '{"message": "sms to 13912345678 failed"}',
    ],
)
def test_the_log_check_finds_id_and_phone_numbers(line):
    with pytest.raises(AssertionError):
        assert_no_personal_data(line, "certificates")


def test_the_log_check_passes_ids_times_and_uuids():
    line = (
        '{"at": "2026-12-03T16:20:34.212074+00:00", "call_id": '
        '"identity.sign_in.9e13e5ee-d8b8-402e-ac15-63d9d81dec4d", '
        '"message": "exam session 2025-load-3: 2500 certificates recorded"}'
    )

    assert_no_personal_data(line, "identity")


def test_a_uuid_whose_last_group_looks_like_a_phone_number_is_not_one():
    assert_no_personal_data(
        '{"call_id": "reissue.start.1b0c9e2a-58e3-45f3-83ae-19427410656f"}', "reissue"
    )
