"""Stored conversations: the SQLite store, its full-text search, and opening it safely."""
