"""The pipeline: reconcile a node repo with the chain repo, coalescing, webhooks, and the `serve` service."""
