"""GitOps for CITA-Cloud consortium-chain configuration (cloud-config 6.7.4 compatible)."""

__version__ = "6.7.4"
