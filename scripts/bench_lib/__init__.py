"""Helpers for scripts/bench, the postie-vs-msmtp benchmark (stdlib only)."""
