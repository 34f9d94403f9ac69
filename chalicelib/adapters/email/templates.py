"""``EmailRenderer`` with Jinja2 over ``templates/email``.

Each email ``name`` has three files: ``name.subject`` (one line), ``name.html`` and ``name.txt``; both
bodies extend the shared layout (``_layout.html`` / ``_layout.txt``). HTML is autoescaped; text is not.
The templates folder sits next to ``chalicelib`` in the repository and in the deployment bundle
(``make package`` adds it).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2

TEMPLATES_DIR = Path(__file__).resolve().parents[3] / "templates"


class JinjaEmailRenderer:
    """Renders subject, HTML and text of a named email."""

    def __init__(self, root: Path | None = None) -> None:
        self._html = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str((root or TEMPLATES_DIR) / "email")),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._text = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str((root or TEMPLATES_DIR) / "email")),
            autoescape=False,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )

    def render(self, name: str, context: Mapping[str, Any]) -> tuple[str, str, str]:
        """(subject, html, text) of the email ``name``; a missing variable is an error, not a blank."""
        subject = " ".join(self._text.get_template(f"{name}.subject").render(**context).split())
        html = self._html.get_template(f"{name}.html").render(subject=subject, **context)
        text = self._text.get_template(f"{name}.txt").render(subject=subject, **context)
        return subject, html, text
