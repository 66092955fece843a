"""The audit log: one row per authenticated call."""
