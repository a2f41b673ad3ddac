"""One Router per resource of the HTTP API."""
