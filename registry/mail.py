"""Outgoing e-mail: SMTP where configured, otherwise a local outbox folder of .eml files.

The outbox is the embedded default: every message lands there, complete and readable, so a
single-machine installation loses nothing and an operator can forward or inspect them.
"""

from __future__ import annotations

import os
import smtplib
import tempfile
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path


class FileOutbox:
    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)

    def send(self, message: EmailMessage) -> str:
        self.directory.mkdir(parents=True, exist_ok=True)
        message_id = message["Message-ID"] or make_msgid(domain="registry.local")
        name = message_id.strip("<>").replace("@", "_at_").replace("/", "_") + ".eml"
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-")
        with os.fdopen(fd, "wb") as handle:
            handle.write(bytes(message))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.directory / name)
        return str(self.directory / name)


class SmtpMailer:
    def __init__(self, host: str, port: int = 587, *, username: str = "", password: str = "",
                 starttls: bool = True) -> None:
        self.host, self.port, self.username, self.password, self.starttls = host, port, username, password, starttls

    def send(self, message: EmailMessage) -> str:
        with smtplib.SMTP(self.host, self.port, timeout=30) as smtp:
            if self.starttls:
                smtp.starttls()
            if self.username:
                smtp.login(self.username, self.password)
            smtp.send_message(message)
        return message["Message-ID"] or ""


def mailer_from_config(config) -> FileOutbox | SmtpMailer:
    if config.get("MAIL_SERVER"):
        return SmtpMailer(config["MAIL_SERVER"], int(config.get("MAIL_PORT") or 587),
                          username=config.get("MAIL_USERNAME") or "", password=config.get("MAIL_PASSWORD") or "",
                          starttls=str(config.get("MAIL_STARTTLS", "1")).lower() not in {"0", "false", "no"})
    return FileOutbox(config["MAIL_OUTBOX_DIR"])
