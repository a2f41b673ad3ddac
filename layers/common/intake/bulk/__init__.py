"""Bulk uploads: reading files as staff make them, validating rows, planning, reports."""
