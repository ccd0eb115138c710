"""Everything that turns messages into tokens: the Backend protocol, local and HTTP backends."""
