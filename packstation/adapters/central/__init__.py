"""The central PostgreSQL database that all stations of a warehouse share (see docs in schema.py)."""
