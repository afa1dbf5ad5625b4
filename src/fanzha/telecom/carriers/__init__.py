"""Carrier channel: shut down, intercept and block numbers through carriers, answered signed (DOMAIN.md §5)."""
