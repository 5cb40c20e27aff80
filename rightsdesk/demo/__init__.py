"""The demo of ``make run``: an organisation with sample requests, and a shop database with
its data map."""
