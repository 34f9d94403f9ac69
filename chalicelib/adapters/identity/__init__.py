"""Verification of Entra ID (Microsoft identity platform) tokens."""
