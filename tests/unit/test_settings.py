import pytest

from services.common.settings import (
    DEFAULT_AMQP_URI,
    DEFAULT_HTTP_PORTS,
    DatabaseAddress,
    SettingError,
    load_settings,
)


def test_an_empty_environment_gives_the_defaults():
    settings = load_settings({})

    assert settings.amqp_uri == DEFAULT_AMQP_URI
    assert str(settings.database) == "127.0.0.1:5432/xjcert"
    assert settings.http_host == "127.0.0.1"
    assert settings.http_ports == DEFAULT_HTTP_PORTS
    assert settings.log_level == "INFO"
    assert settings.max_workers == 10
    assert settings.relay_batch_size == 500
    assert settings.ingest_batch_size == 1000
    assert settings.max_delivery_attempts == 5
    assert settings.realname_service_url is None


def test_integers_and_ports_are_read_from_the_environment():
    settings = load_settings(
        {"XJCERT_MAX_WORKERS": "4", "XJCERT_CERTIFICATES_HTTP_PORT": "9002"}
    )

    assert settings.max_workers == 4
    assert settings.http_port("certificates") == 9002
    assert settings.http_port("identity") == 8001


def test_an_empty_integer_falls_back_to_its_default():
    settings = load_settings({"XJCERT_RELAY_BATCH_SIZE": ""})

    assert settings.relay_batch_size == 500


@pytest.mark.parametrize(
    "name",
    ["XJCERT_MAX_WORKERS", "XJCERT_INGEST_BATCH_SIZE", "XJCERT_REISSUE_HTTP_PORT"],
)
def test_a_malformed_integer_names_its_variable(name):
    with pytest.raises(SettingError, match=name):
        load_settings({name: "ten"})


@pytest.mark.parametrize("raw", ["0", "-3"])
def test_a_count_must_be_positive(raw):
    with pytest.raises(SettingError, match="XJCERT_MAX_DELIVERY_ATTEMPTS"):
        load_settings({"XJCERT_MAX_DELIVERY_ATTEMPTS": raw})


def test_a_database_url_is_split_into_its_parts():
    url = "postgresql://xjcert:p%40ss@db.internal:6432/certificates"

    address = DatabaseAddress.from_url(url)

    assert address == DatabaseAddress(
        "db.internal", 6432, "xjcert", "p@ss", "certificates"
    )
    assert "p@ss" not in str(address)


@pytest.mark.parametrize(
    "url",
    ["mysql://xjcert:secret@db/xjcert", "postgresql://xjcert:secret@db", "xjcert"],
)
def test_a_bad_database_url_names_the_variable_but_not_the_password(url):
    with pytest.raises(SettingError) as caught:
        load_settings({"XJCERT_DATABASE_URL": url})

    assert "XJCERT_DATABASE_URL" in str(caught.value)
    assert "secret" not in str(caught.value)


@pytest.mark.parametrize("port", ["fivefour", "99999"])
def test_a_database_url_with_a_bad_port_names_the_variable(port):
    url = f"postgresql://xjcert@db:{port}/xjcert"

    with pytest.raises(SettingError, match="XJCERT_DATABASE_URL"):
        load_settings({"XJCERT_DATABASE_URL": url})


def test_a_secret_is_read_from_the_file_its_variable_names(tmp_path):
    (tmp_path / "key").write_bytes(b"c2VjcmV0\n")
    settings = load_settings({"XJCERT_LOOKUP_KEY_FILE": str(tmp_path / "key")})

    assert settings.secrets.read("lookup_key") == b"c2VjcmV0"


def test_a_missing_secret_names_its_variable():
    settings = load_settings({})

    with pytest.raises(SettingError, match="XJCERT_EVENT_CIPHER_KEY_FILE"):
        settings.secrets.read("event_cipher_key")


def test_an_unreadable_secret_file_names_the_variable_and_the_file(tmp_path):
    missing = tmp_path / "nowhere"
    settings = load_settings({"XJCERT_TOKEN_PUBLIC_KEY_FILE": str(missing)})

    with pytest.raises(SettingError) as caught:
        settings.secrets.read("token_public_key")

    assert "XJCERT_TOKEN_PUBLIC_KEY_FILE" in str(caught.value)
    assert str(missing) in str(caught.value)
