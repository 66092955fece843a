"""The knowledge domain: collections, articles and their chunks, full-text search."""
