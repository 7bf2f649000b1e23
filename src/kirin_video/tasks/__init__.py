"""Task lifecycle: tables, migrations, the state machine and the service functions."""
