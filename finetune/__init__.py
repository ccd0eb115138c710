"""Everything that trains: data sources, packing, the Trainer run, background jobs, tokenizer training."""
