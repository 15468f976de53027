"""The data factory: sources (ingest), rules (clean), dedup, decontamination, quality, format."""
