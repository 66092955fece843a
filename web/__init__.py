"""Hand-written HTTP surfaces for people and protocols (DESIGN.md): the dashboard and signed downloads."""
