"""`python -m cloud_config` runs the command line."""

from cloud_config.cli.main import main

raise SystemExit(main())
