"""python -m services.identity.staff: create a staff account (administrators only).

    python -m services.identity.staff --mobile 13900000000 --role reviewer

Staff never register themselves. The password is read from the terminal, or from
standard input when it is not a terminal; it must pass the same strength check.
"""

from __future__ import annotations

import argparse
import getpass
import sys

from services.common.auth import Role
from services.common.db import ensure_schema, open_pool, schema_lock
from services.common.errors import Refusal
from services.common.settings import load_settings
from services.identity.accounts import checked_credentials
from services.identity.application import IdentityApplication


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mobile", required=True)
    parser.add_argument(
        "--role", action="append", required=True, choices=sorted(Role.STAFF)
    )
    args = parser.parse_args()
    password = (
        getpass.getpass("password: ") if sys.stdin.isatty() else sys.stdin.readline()
    ).strip()

    settings = load_settings()
    pool = open_pool(settings.database, max_size=1)
    with schema_lock(settings.database, "identity"):
        ensure_schema(pool, "identity")
        app = IdentityApplication.from_settings(settings, "identity")
    pool.close()
    try:
        password_hash = checked_credentials(args.mobile, password)
        account_id = app.register(args.mobile, password_hash, sorted(set(args.role)))
    except Refusal as refusal:
        sys.exit(f"{refusal.code}: {refusal.message}")
    finally:
        app.close()
    print(f"staff account {account_id} created with roles {', '.join(args.role)}")


if __name__ == "__main__":
    main()
