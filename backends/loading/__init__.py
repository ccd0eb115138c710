"""From a model name to loaded weights: sources and presets, the load plan, the Hub, fast-start copies."""
