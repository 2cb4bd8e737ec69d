"""The configuration model: chain and node configuration, node addresses, stages, TOML layout."""
