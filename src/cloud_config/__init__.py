"""GitOps for CITA-Cloud consortium-chain configuration (cloud-config 6.7.4 compatible)."""

__version__ = "0.2.0"  # this project's version (the cita-cloud-gitops distribution)
COMPATIBLE_WITH = "6.7.4"  # the cloud-config (Rust) release whose commands and files we reproduce
