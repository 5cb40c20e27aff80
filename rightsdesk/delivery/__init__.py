"""Durable delivery to the outside: the mail outbox, status webhooks to host applications,
and jobs for the data map's webhook systems."""
