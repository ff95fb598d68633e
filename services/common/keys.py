"""python -m services.common.keys DIR: make the secrets a development run needs.

Writes, into DIR, each secret file the settings name (see `Secrets`), keeping any
that already exist, and prints the `XJCERT_<NAME>_FILE` lines to export. For
development and tests only: production secrets come from the deployment.
"""

from __future__ import annotations

import base64
import os
import sys
from pathlib import Path

from services.certificates.ecert import new_signing_identity
from services.common.auth import new_signing_key_pair


def make_keys(directory: Path) -> dict[str, str]:
    """Create missing secret files in `directory`; return the settings naming them."""
    directory.mkdir(parents=True, exist_ok=True)
    private_pem, public_pem = new_signing_key_pair()
    ecert_key_pem, ecert_certificate_pem = new_signing_identity()
    contents = {
        "event_cipher_key": base64.b64encode(os.urandom(32)),
        "lookup_key": base64.b64encode(os.urandom(32)),
        "token_private_key": private_pem,
        "token_public_key": public_pem,
        "ecert_signing_key": ecert_key_pem,
        "ecert_signing_certificate": ecert_certificate_pem,
        "sms_gateway_password": base64.b64encode(os.urandom(18)),
        "smtp_password": base64.b64encode(os.urandom(18)),
    }
    # Keys and their public halves only work as pairs: write both or neither.
    for pair in (
        ("token_private_key", "token_public_key"),
        ("ecert_signing_key", "ecert_signing_certificate"),
    ):
        if not all((directory / name).exists() for name in pair):
            for name in pair:
                (directory / name).unlink(missing_ok=True)
    settings = {}
    for name, content in contents.items():
        path = directory / name
        if not path.exists():
            path.write_bytes(content)
            path.chmod(0o600)
        settings[f"XJCERT_{name.upper()}_FILE"] = str(path.resolve())
    return settings


def main() -> None:
    directory = Path(sys.argv[1] if len(sys.argv) > 1 else ".run/keys")
    for variable, path in make_keys(directory).items():
        print(f"export {variable}={path}")


if __name__ == "__main__":
    main()
