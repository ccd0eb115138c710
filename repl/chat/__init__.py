"""A chat as every mode shares it: the session, the reply runner, branches and attachments."""
