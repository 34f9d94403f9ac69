"""Email: SES delivery, Jinja2 rendering of ``templates/email``, and an in-memory sender for tests."""
