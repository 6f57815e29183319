"""Model fixtures (being written)."""
