"""Staff accounts, created as administrators create them: with the staff command."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.support.holders import Holder, new_mobile
from tests.support.infrastructure import environment_for
from tests.support.processes import ROOT

STAFF_PASSWORD = "Urumqi-Counter-Desk-42"


def staff_member(identity_url: str, database, vhost, role: str) -> Holder:
    mobile = new_mobile()
    created = subprocess.run(
        [sys.executable, "-m", "services.identity.staff", "--mobile", mobile]
        + ["--role", role],
        input=STAFF_PASSWORD + "\n",
        cwd=ROOT,
        env={**os.environ, **environment_for(database, vhost)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert created.returncode == 0, created.stderr
    member = Holder(identity_url, mobile)
    assert member.sign_in(STAFF_PASSWORD).status_code == 200
    return member
