"""Requests: intake, verification, the lifecycle, staff decisions, deadlines, files, and
requests by e-mail."""
