"""Retention: the jobs that destroy (파기) what the schedule no longer lets anyone keep, and
dormancy."""
