"""Where files live and how they are written: atomically, under a lock, secrets 0600."""
