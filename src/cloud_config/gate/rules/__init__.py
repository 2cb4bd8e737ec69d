"""The gate's rules, one module per topic: config (schema, stage, consensus), secrets, certs, members."""
