"""python -m services.certificates: run the certificates service."""

from services.common.launch import launch

launch("services.certificates.service", "CertificatesService")
