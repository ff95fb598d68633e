"""python -m services.certificates: run the certificates service."""

import eventlet

eventlet.monkey_patch()  # before anything else imports socket, select or threading

from services.certificates.service import CertificatesService  # noqa: E402
from services.common.runner import run  # noqa: E402

run(CertificatesService)
