"""python -m services.distribution: run the distribution service."""

from services.common.launch import launch

launch("services.distribution.service", "DistributionService")
