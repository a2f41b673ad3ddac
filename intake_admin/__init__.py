"""`intake-admin`, the operator CLI for a new stack (console script in pyproject `[project.scripts]`)."""
