"""The conversations domain: agents, conversations, their messages and internal notes."""
