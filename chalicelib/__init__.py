"""Matterline's application package: domain rules, use cases, adapters and the HTTP API."""
