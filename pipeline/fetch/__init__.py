"""The HTTP client: limits, conditional GET, the address guard, per-host politeness."""
