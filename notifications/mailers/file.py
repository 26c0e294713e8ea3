"""The embedded default: each message becomes an .eml file in a folder.

The file is named after the Message-ID, and written to a temporary name first, so a
resend after a crash replaces the file rather than adding a second one. A mail carries
its recipient's follow-up link, a credential: the folder is created 0700 and each file
0600, whatever the umask.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

from notifications.mailers import Outgoing, SendResult


class FileMailer:
    name = "file"

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path_for(self, item: Outgoing) -> Path:
        digest = hashlib.sha256(item.message_id.encode()).hexdigest()[:16]
        return self.folder / f"{item.kind}-{digest}.eml"

    async def send_all(self, batch: Iterable[Outgoing]) -> list[SendResult]:
        results: list[SendResult] = []
        try:
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            return [SendResult(status="retry", error=f"{self.folder}: {exc.strerror}") for _ in batch]
        for item in batch:
            target = self.path_for(item)
            tmp = target.with_suffix(".tmp")
            try:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                os.fchmod(fd, 0o600)  # a .tmp left by a crash keeps the mode it was made with
                with os.fdopen(fd, "wb") as out:
                    out.write(item.raw)
                os.replace(tmp, target)
            except OSError as exc:
                results.append(SendResult(status="retry", error=f"{target}: {exc.strerror}"))
            else:
                results.append(SendResult(status="sent"))
        return results

    async def close(self) -> None:
        return None
