"""Privacy: consent per purpose, data export and erasure across contexts, the audit log."""
