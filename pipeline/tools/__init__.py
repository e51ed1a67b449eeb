"""Entry points for evaluation (not runtime code)."""
