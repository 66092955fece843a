"""Members: people who sign in, their roles per workspace, invitations, resets, sessions."""
