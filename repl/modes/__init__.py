"""The ways parrot runs without the full-screen app: plain REPL, scripts, one-shot pipes; and picking the app."""
