"""A mailer that keeps what it is asked to send (`retouch.notify.mailer.Mailer`), so a test
reads the mail as its recipient would."""

from __future__ import annotations

from dataclasses import dataclass, field

from retouch.notify.mailer import Mail


@dataclass
class RecordingMailer:
    sent: list[Mail] = field(default_factory=list)

    def send(self, mail: Mail) -> None:
        self.sent.append(mail)

    def to(self, address: str) -> list[Mail]:
        """The mails sent to `address`, oldest first."""
        return [mail for mail in self.sent if mail.to == address]

    def token(self, address: str, *, after: str) -> str:
        """The token of the last link to `address` starting with `after`."""
        for mail in reversed(self.to(address)):
            if after in mail.text:
                return mail.text.split(after, 1)[1].split()[0]
        raise AssertionError(f"no link {after}… mailed to {address}")
