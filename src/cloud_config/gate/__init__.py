"""The PR gate: `verify` judges a proposed chain change; rules by topic, findings, the change summary."""
