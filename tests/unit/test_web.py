import json

from services.common.errors import Conflict
from services.common.web import PUBLIC, ApiHandler
from services.common.workdays import CalendarYearNotCovered


def answer(exc: Exception) -> tuple[int, dict]:
    response = ApiHandler("GET", "/anything", roles=PUBLIC).response_from_exception(exc)
    return response.status_code, json.loads(response.get_data())


def test_a_refusal_answers_with_its_status_code_and_message():
    status, body = answer(Conflict("window_full", "该时段已约满，请选择其他时段。"))

    assert status == 409
    assert body == {
        "error": {"code": "window_full", "message": "该时段已约满，请选择其他时段。"}
    }


def test_a_year_the_calendar_lacks_is_refused_naming_the_year():
    status, body = answer(CalendarYearNotCovered(2028, ["no regional entry"]))

    assert status == 503
    assert body["error"]["code"] == "calendar_year_missing"
    assert "2028" in body["error"]["message"]


def test_an_unexpected_error_answers_500_without_details():
    status, body = answer(KeyError("holder_id_number"))

    assert status == 500
    assert body["error"]["code"] == "internal_error"
    assert "holder_id_number" not in json.dumps(body)
