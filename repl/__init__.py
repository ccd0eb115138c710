"""Everything a person sees: the command line, the Textual app, the plain REPL, pipe mode and slash-commands."""
