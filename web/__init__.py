"""Hand-written HTTP pages and files served beside the generated API."""
