"""Accounts, merchants, staff roles, partner API keys and bearer tokens."""
