"""Chalice blueprints: parse with pydantic, call one service, shape the reply."""
