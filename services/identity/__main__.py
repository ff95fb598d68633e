"""python -m services.identity: run the identity service."""

import warnings

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

import eventlet  # noqa: E402

eventlet.monkey_patch()  # before anything else imports socket, select or threading

from services.common.runner import run  # noqa: E402
from services.identity.service import IdentityService  # noqa: E402

run(IdentityService)
