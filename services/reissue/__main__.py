"""python -m services.reissue: run the reissue service."""

from services.common.launch import launch

launch("services.reissue.service", "ReissueService")
