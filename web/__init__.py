"""Hand-written HTTP for people and protocols (DESIGN.md): dashboard, signed downloads."""
