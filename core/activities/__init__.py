"""Activity log: notes, calls, emails, meetings, agent actions."""
