"""The ``parrot`` command line: arguments, subcommands, the config file, exit codes. No Textual here."""
