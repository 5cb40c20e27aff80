"""E-mail: the durable outbox (``outbox``) and requests that arrive by mail (``inbound``)."""
