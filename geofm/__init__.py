"""geofm: see what a geospatial foundation model sees."""

__version__ = "0.1.0"
