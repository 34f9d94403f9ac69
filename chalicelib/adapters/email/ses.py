"""``EmailSender`` on Amazon SES (v2): every email goes out as raw MIME.

Raw rather than Simple content because every email has both an HTML and a plain-text part, some carry
an attachment (the approved invoice PDF), and SES templates are not used at all (bodies are rendered
with Jinja2; moto does not implement SESv2 template content either). The configuration set (from
settings) routes SES's delivery, bounce and complaint events.
"""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from chalicelib.ports import OutgoingEmail


def mime_message(email: OutgoingEmail, sender: str) -> EmailMessage:
    """The MIME message of ``email``: text and HTML alternatives, inline images, attachments."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(email.to)
    if email.cc:
        message["Cc"] = ", ".join(email.cc)
    message["Subject"] = email.subject
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(domain=sender.rsplit("@", 1)[-1])
    message.set_content(email.text)
    message.add_alternative(email.html, subtype="html")
    if email.inline_images:
        html_part = message.get_body(preferencelist=("html",))
        assert isinstance(html_part, EmailMessage)
        for image in email.inline_images:
            maintype, _, subtype = image.content_type.partition("/")
            html_part.add_related(image.data, maintype=maintype, subtype=subtype, cid=f"<{image.file_name}>")
    for attachment in email.attachments:
        maintype, _, subtype = attachment.content_type.partition("/")
        message.add_attachment(
            attachment.data, maintype=maintype, subtype=subtype, filename=attachment.file_name
        )
    return message


class SesEmailSender:
    """Sends through SESv2 ``SendEmail`` with ``Raw`` content from the configured sender address."""

    def __init__(self, client: Any, sender: str, configuration_set: str | None = None) -> None:
        self._client = client
        self._sender = sender
        self._configuration_set = configuration_set

    def send(self, email: OutgoingEmail) -> str:
        """Send now; returns SES's message id. Raises botocore's ``ClientError`` when SES refuses."""
        if not email.to:
            raise ValueError("an email needs at least one recipient")
        raw = mime_message(email, self._sender).as_bytes()
        kwargs: dict[str, Any] = {
            # No Destination: SES takes the recipients of raw content from its To and Cc headers.
            "FromEmailAddress": self._sender,
            "Content": {"Raw": {"Data": raw}},
        }
        if self._configuration_set:
            kwargs["ConfigurationSetName"] = self._configuration_set
        if email.tags:
            kwargs["EmailTags"] = [
                {"Name": name, "Value": value} for name, value in sorted(email.tags.items())
            ]
        response = self._client.send_email(**kwargs)
        return str(response["MessageId"])
