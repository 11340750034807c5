"""Training jobs: tables, lifecycle, the one repository, validation, service and endpoints."""
