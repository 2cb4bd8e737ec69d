"""Pure rendering: (chain, node, key material) -> {relative path: bytes}."""
