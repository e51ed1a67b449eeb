"""Feed bytes to entries (RSS, Atom, JSON Feed), news sitemaps and feed discovery."""
