"""Labelling jobs: one task, many items, hidden gold, member reliability and aggregated answers."""
