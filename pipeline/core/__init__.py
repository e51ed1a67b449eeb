"""Plain values and settings shared by every stage: errors, clock, config, URLs, records."""
