"""Password reset links by mail (``PATCHBAY_SMTP_*``), with the standard library.

``smtplib`` blocks, so the message is sent in a worker thread: a slow mail server never
holds up the event loop. Without ``PATCHBAY_SMTP_HOST`` nothing is sent (the CLI prints
the link instead)."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage

import anyio

from core.config import Settings


def smtp_configured(settings: Settings) -> bool:
    return bool(settings.smtp_host)


def reset_message(settings: Settings, to: str, url: str, expires: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = to
    message["Subject"] = "Reset your Patchbay password"
    message.set_content(
        "Someone (hopefully you) asked to reset the password of this Patchbay account.\n\n"
        f"Set a new password here (single use, valid until {expires}):\n\n{url}\n\n"
        "If you did not ask for this, ignore this message: the password stays as it is.\n"
    )
    return message


def _send(settings: Settings, message: EmailMessage) -> None:
    assert settings.smtp_host
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=20) as smtp:
        if settings.smtp_starttls:
            smtp.starttls(context=ssl.create_default_context())
        if settings.smtp_username:
            secret = settings.smtp_password
            smtp.login(settings.smtp_username, secret.get_secret_value() if secret else "")
        smtp.send_message(message)


async def send(settings: Settings, message: EmailMessage) -> None:
    """Send ``message`` through the configured SMTP server (in a worker thread)."""
    await anyio.to_thread.run_sync(_send, settings, message)


def send_blocking(settings: Settings, message: EmailMessage) -> None:
    """``send`` for synchronous callers (the CLI)."""
    _send(settings, message)
