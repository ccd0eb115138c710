"""Hosted backends: OpenAI-compatible servers and the Hugging Face router, over one HTTP client."""
