"""Shared kit with no domain logic: database, exceptions, the HTTP problem table, OpenAPI,
auth, middleware and logging."""
