"""The command line: one module per group of verbs; no business logic here."""
