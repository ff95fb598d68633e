"""python -m services.identity: run the identity service."""

from services.common.launch import launch

launch("services.identity.service", "IdentityService")
