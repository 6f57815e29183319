"""STAC/COG stand-in fixtures (being written)."""
