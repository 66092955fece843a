"""A toy domain that only the tests serve: proof that a domain is a folder plus one line."""
