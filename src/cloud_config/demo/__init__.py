"""The walkthrough showcase (`cloud-config demo`): a local forge, people with keys and repos, the acts."""
