"""The use cases the CLI and the pipeline share: nodes, create/append/delete, the PKI flows, a fresh chain."""
