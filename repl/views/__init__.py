"""Text views every mode shares: token tables, history tables, comparisons, terminal-safe text."""
