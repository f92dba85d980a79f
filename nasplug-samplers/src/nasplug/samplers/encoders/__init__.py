"""Fixed architecture encodings."""
