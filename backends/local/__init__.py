"""Local models: the backend, the decoding loop, sampling, stop rules and text streaming."""
