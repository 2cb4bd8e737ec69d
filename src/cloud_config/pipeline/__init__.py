"""Git operations, reconcile, the PR gate and the webhook service."""
