"""The analysts' desk (`pipeline serve`): review pages, a read-only JSON API, metrics."""
