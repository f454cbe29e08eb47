"""One module per ``diplomatie`` subcommand; each defines ``command`` (a click command)."""
