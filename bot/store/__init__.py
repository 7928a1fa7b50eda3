"""Storage: SQL lives here and nowhere else. ``SqliteStore`` is the embedded default."""
