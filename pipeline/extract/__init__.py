"""HTML bytes to title, text, author, date and language; the extraction worker pool."""
