"""python -m services.distribution: run the distribution service."""

import warnings

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

import eventlet  # noqa: E402

eventlet.monkey_patch()  # before anything else imports socket, select or threading

from services.common.runner import run  # noqa: E402
from services.distribution.service import DistributionService  # noqa: E402

run(DistributionService)
