"""Watchlist to compiled matcher to mentions; the normaliser and the importers."""
