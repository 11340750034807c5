"""Live updates: server-sent event streams of a job and of a tenant's jobs."""
