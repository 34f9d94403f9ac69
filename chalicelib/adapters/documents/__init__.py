"""Documents Matterline renders: the approved invoice PDF (reportlab)."""
