"""Webhooks: signed HTTP callbacks on job events, delivered from a durable outbox."""
