"""Read-only AWS lookups shared by gameday's actions and probes, one module per service."""
