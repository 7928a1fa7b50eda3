"""What an outbox row holds: its target (a space or a member) and its payload (a serialised reply).

Written by the store inside the unit of work of a row's cause, read by the drainer when it sends the
row; so this module knows replies and JSON, and nothing of stores, engines or platforms.
"""

from __future__ import annotations

import base64
from typing import Any

from bot.replies import Attachment, Button, Image, Outcome, Reply


def space_target(external_id: str) -> str:
    return f"space:{external_id}"


def user_target(platform_user_id: str) -> str:
    return f"user:{platform_user_id}"


def reply_payload(reply: Reply) -> dict[str, Any]:
    """A reply as JSON-ready data (images and files inlined as base64: they must survive a restart)."""
    payload: dict[str, Any] = {"text": reply.text, "outcome": reply.outcome.value, "private": reply.private}
    if reply.buttons:
        payload["buttons"] = [[[b.label, b.action, b.url] for b in row] for row in reply.buttons]
    if reply.image is not None:
        payload["image"] = {
            "path": reply.image.path,
            "url": reply.image.url,
            "data": base64.b64encode(reply.image.data).decode(),
            "filename": reply.image.filename,
        }
    if reply.attachment is not None:
        payload["attachment"] = {
            "filename": reply.attachment.filename,
            "data": base64.b64encode(reply.attachment.data).decode(),
        }
    if reply.follow_up is not None:
        payload["follow_up"] = reply_payload(reply.follow_up)
    return payload


def reply_from_payload(payload: dict[str, Any]) -> Reply:
    image = payload.get("image")
    attachment = payload.get("attachment")
    return Reply(
        text=payload["text"],
        outcome=Outcome(payload.get("outcome", "info")),
        private=bool(payload.get("private", False)),
        buttons=tuple(
            tuple(Button(label, action, url=url) for label, action, url in row) for row in payload.get("buttons", ())
        ),
        image=Image(image["path"], image["url"], base64.b64decode(image["data"]), image["filename"]) if image else None,
        attachment=Attachment(attachment["filename"], base64.b64decode(attachment["data"])) if attachment else None,
        follow_up=reply_from_payload(payload["follow_up"]) if "follow_up" in payload else None,
    )
