"""Workspaces (tenants) and their plans."""
