"""E-mail channel (smtplib): plain SMTP, STARTTLS or implicit TLS; login optional."""

from __future__ import annotations

import os
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from alerts.errors import ChannelError
from alerts.notification import Notification
from alerts.settings import EmailChannelSettings


class EmailChannel:
    """Sends one UTF-8 text e-mail per notification to the configured recipients."""

    def __init__(self, name: str, settings: EmailChannelSettings) -> None:
        self.name = name
        self._settings = settings

    def _password(self) -> str | None:
        if self._settings.password is not None:
            return self._settings.password.get_secret_value()
        if self._settings.password_env:
            value = os.environ.get(self._settings.password_env)
            if value is None:
                raise ChannelError(f"environment variable {self._settings.password_env} not set")
            return value
        return None

    def message(self, notification: Notification) -> EmailMessage:
        """The e-mail for one notification (headers carry the alert id for threading/filters)."""
        msg = EmailMessage()
        msg["Subject"] = notification.subject
        msg["From"] = self._settings.sender
        msg["To"] = ", ".join(self._settings.to)
        msg["Date"] = formatdate(localtime=False)
        domain = self._settings.sender.rpartition("@")[2] or None
        msg["Message-ID"] = make_msgid(
            idstring=f"{notification.alert_id}.{notification.event}", domain=domain
        )
        msg["X-Quantrac-Alert"] = notification.alert_id
        msg["X-Quantrac-Event"] = notification.event
        msg.set_content(notification.text)
        return msg

    def send(self, notification: Notification) -> None:
        self.deliver(self.message(notification))

    def deliver(self, msg: EmailMessage) -> None:
        """Send a prepared message over this channel's SMTP relay (also used for reports)."""
        s = self._settings
        try:
            if s.ssl:
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    s.host, s.port, timeout=s.timeout_s, context=ssl.create_default_context()
                )
            else:
                smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout_s)
            with smtp:
                if s.starttls and not s.ssl:
                    smtp.starttls(context=ssl.create_default_context())
                if s.username:
                    smtp.login(s.username, self._password() or "")
                smtp.send_message(msg)
        except (smtplib.SMTPException, OSError) as exc:
            raise ChannelError(f"smtp {s.host}:{s.port}: {exc}") from exc
