"""The rehearsal: every node of a chain on loopback, linked as network_zenoh links them, before a merge."""
