"""Intake's shared package: domain rules, data access, authorization, passwords, settings and observability."""
