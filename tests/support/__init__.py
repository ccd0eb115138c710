"""What the tests share: tiny models, test servers, fixtures and helpers for driving each mode."""
