"""Platform-neutral identities: who acts, and where.

Adapters build these from platform updates; the engine never sees a platform object.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class UserRef:
    """A person on one platform.

    Attributes:
        platform: short platform name (``telegram``, ``discord``, ``console``).
        platform_user_id: the platform's stable id for the person, as a string.
        display_name: what the platform shows; untrusted text, escaped before it is rendered.
        language: the client's language code (``en``, ``ro-RO``); ``None`` when unknown.
    """

    platform: str
    platform_user_id: str
    display_name: str = ""
    language: str | None = None


@dataclass(frozen=True, slots=True)
class SpaceRef:
    """Where an interaction happens: a chat, a server or a private conversation.

    Attributes:
        platform: short platform name, as in :class:`UserRef`.
        external_id: the platform's id for the chat or guild.
        title: human name of the space, for announcements and exports.
        is_private: ``True`` for a one-to-one conversation with the bot.
    """

    platform: str
    external_id: str
    title: str = ""
    is_private: bool = False
