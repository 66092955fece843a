"""Tasks linked to any record."""
