"""Workflow engine (SPEC §5): recipes, runs, the daily cap and the run queue."""
