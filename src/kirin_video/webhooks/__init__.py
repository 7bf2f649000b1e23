"""Signed callback delivery from a durable outbox."""
