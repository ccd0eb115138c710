"""The Textual chat app: the only part of parrot that imports Textual."""
