"""API tokens: issued, revoked and authenticated."""
