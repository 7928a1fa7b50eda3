"""The Discord world the fake simulates: the bot and its application, users, guilds with their roles,
members and channels, and the DM channels it opens.

Why a class of its own: tests build this world before a client connects (``dc.user``, ``dc.guild``,
``dc.role``, ``dc.member``), and the gateway, the REST routes and the interaction driver all read it and
render it in Discord's payload shapes; keeping the state and those shapes here leaves the other modules
free of bookkeeping.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from .protocol import (
    ADMINISTRATOR,
    ALL_PERMISSIONS,
    BOT_PERMISSIONS,
    DISCORD_EPOCH_MS,
    EVERYONE_PERMISSIONS,
    JSON,
    now_iso,
)


class Snowflakes:
    """Increasing snowflakes with a real timestamp, so ``discord.utils.snowflake_time`` stays sensible."""

    def __init__(self) -> None:
        self._last = 0

    def next(self) -> int:
        self._last = max((int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22, self._last + 1)
        return self._last


@dataclass(slots=True)
class Member:
    """A user in a guild: their roles make their permissions there."""

    user_id: int
    roles: list[int]
    joined_at: str
    nick: str | None = None


@dataclass(slots=True)
class Guild:
    """A guild the bot is in; its roles and members decide everyone's permissions in its channels."""

    id: int
    name: str
    owner_id: int
    joined_at: str
    roles: dict[int, JSON] = field(default_factory=dict)
    channel_ids: list[int] = field(default_factory=list)
    members: dict[int, Member] = field(default_factory=dict)

    def permissions(self, user_id: int) -> int:
        """Guild-level permissions (no channel overwrites): owner and administrator get everything."""
        member = self.members.get(user_id)
        if user_id == self.owner_id:
            return ALL_PERMISSIONS
        value = int(self.roles[self.id]["permissions"])
        for role_id in member.roles if member else []:
            value |= int(self.roles[role_id]["permissions"])
        return ALL_PERMISSIONS if value & ADMINISTRATOR else value


def user_payload(user_id: int, name: str, *, bot: bool = False) -> JSON:
    return {
        "id": str(user_id),
        "username": name,
        "global_name": None if bot else name,
        "discriminator": "0",
        "avatar": None,
        "bot": bot,
        "system": False,
        "public_flags": 0,
        "flags": 0,
        "banner": None,
        "accent_color": None,
        "avatar_decoration_data": None,
    }


class World:
    """Users, guilds, roles, members and channels, with the driver calls that build them.

    ``url`` and ``ws_url`` are where clients reach the fake (set once it listens): attachments and READY
    name them. ``online`` says whether a client has a gateway session, after which guilds and roles can no
    longer be added (discord.py learns them only from GUILD_CREATE at IDENTIFY).
    """

    def __init__(self, *, app_id: int, bot_user_id: int, bot_name: str, online: Callable[[], bool]) -> None:
        self.app_id, self.bot_user_id = app_id, bot_user_id
        self.snowflakes = Snowflakes()
        self.bot = user_payload(bot_user_id, bot_name, bot=True)
        self.owner = user_payload(self.snowflakes.next(), "app-owner")
        self.users: dict[int, JSON] = {bot_user_id: self.bot}
        self.dms_closed: set[int] = set()
        self.guilds: dict[int, Guild] = {}
        self.channels: dict[int, JSON] = {}
        self.dm_by_user: dict[int, int] = {}
        self.url = ""
        self.ws_url = ""
        self._online = online

    # ----------------------------------------------------------------- configuration (driver API)

    def user(self, user_id: int, name: str, *, dms_closed: bool = False, bot: bool = False) -> JSON:
        """Registers a user; ``dms_closed`` makes messages to their DM channel fail with 403/50007."""
        self.users[user_id] = user_payload(user_id, name, bot=bot)
        if dms_closed:
            self.dms_closed.add(user_id)
        return self.users[user_id]

    def guild(
        self,
        guild_id: int,
        name: str,
        channels: Sequence[int | tuple[int, str]] = (),
        *,
        owner_id: int | None = None,
        everyone_permissions: int = EVERYONE_PERMISSIONS,
        bot_permissions: int = BOT_PERMISSIONS,
    ) -> JSON:
        """Adds a guild the bot is in, with text channels, @everyone and the bot's managed role.

        Must be called before the client IDENTIFYs: guilds reach discord.py through GUILD_CREATE.
        """
        self._require_offline("guilds")
        guild = Guild(guild_id, name, owner_id or self.snowflakes.next(), now_iso())
        guild.roles[guild_id] = self.role_payload(guild_id, "@everyone", everyone_permissions, position=0)
        self.guilds[guild_id] = guild
        bot_role = self.role(guild_id, self.snowflakes.next(), self.bot["username"], bot_permissions)
        bot_role.update(managed=True, tags={"bot_id": str(self.bot_user_id)})
        guild.members[self.bot_user_id] = Member(self.bot_user_id, [int(bot_role["id"])], guild.joined_at)
        for position, spec in enumerate(channels):
            channel_id, channel_name = spec if isinstance(spec, tuple) else (spec, f"channel-{spec}")
            self.channels[channel_id] = self.text_channel(guild_id, channel_id, channel_name, position)
            guild.channel_ids.append(channel_id)
        return self.guild_payload(guild)

    def role(self, guild_id: int, role_id: int, name: str, permissions: int = 0) -> JSON:
        """Adds a role members can be given through ``member(..., roles=[role_id])``; before connecting,
        since discord.py only learns roles from GUILD_CREATE here."""
        self._require_offline("roles")
        guild = self.guilds[guild_id]
        guild.roles[role_id] = self.role_payload(role_id, name, permissions, position=len(guild.roles))
        return guild.roles[role_id]

    def _require_offline(self, what: str) -> None:
        if self._online():
            raise RuntimeError(f"configure {what} before the client connects (they are sent at IDENTIFY)")

    def member(
        self,
        guild_id: int,
        user_id: int,
        name: str | None = None,
        *,
        permissions: int | None = None,
        roles: Sequence[int] = (),
    ) -> JSON:
        """Makes a user a guild member. ``permissions`` become a personal role on top of @everyone (so
        before connecting); a member without one may be added later, interactions carry member data."""
        guild = self.guilds[guild_id]
        if user_id not in self.users:
            self.user(user_id, name or f"user{user_id}")
        role_ids = list(roles)
        if permissions is not None:
            role_ids.append(
                int(self.role(guild_id, self.snowflakes.next(), f"{name or user_id}-perms", permissions)["id"])
            )
        guild.members[user_id] = Member(user_id, role_ids, now_iso())
        return self.member_payload(guild, user_id)

    # ----------------------------------------------------------------- payloads

    @staticmethod
    def role_payload(role_id: int, name: str, permissions: int, *, position: int) -> JSON:
        return {
            "id": str(role_id),
            "name": name,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "icon": None,
            "unicode_emoji": None,
            "position": position,
            "permissions": str(permissions),
            "managed": False,
            "mentionable": False,
            "flags": 0,
        }

    @staticmethod
    def text_channel(guild_id: int, channel_id: int, name: str, position: int) -> JSON:
        return {
            "id": str(channel_id),
            "type": 0,
            "guild_id": str(guild_id),
            "name": name,
            "position": position,
            "permission_overwrites": [],
            "topic": None,
            "nsfw": False,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "parent_id": None,
            "flags": 0,
        }

    def dm_channel(self, user_id: int) -> JSON:
        if user_id not in self.dm_by_user:
            channel_id = self.snowflakes.next()
            self.dm_by_user[user_id] = channel_id
            self.channels[channel_id] = {
                "id": str(channel_id),
                "type": 1,
                "last_message_id": None,
                "flags": 0,
                "recipients": [self.users[user_id]],
            }
        return self.channels[self.dm_by_user[user_id]]

    def member_payload(self, guild: Guild, user_id: int) -> JSON:
        member = guild.members[user_id]
        return {
            "user": self.users[user_id],
            "nick": member.nick,
            "avatar": None,
            "banner": None,
            "roles": [str(r) for r in member.roles],
            "joined_at": member.joined_at,
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "pending": False,
            "flags": 0,
            "communication_disabled_until": None,
        }

    def guild_payload(self, guild: Guild) -> JSON:
        return {
            "id": str(guild.id),
            "name": guild.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(guild.owner_id),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": "en-US",
            "features": [],
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "safety_alerts_channel_id": None,
            "premium_progress_bar_enabled": False,
            "roles": list(guild.roles.values()),
            "emojis": [],
            "stickers": [],
            "joined_at": guild.joined_at,
            "large": False,
            "unavailable": False,
            "member_count": len(guild.members),
            "members": [self.member_payload(guild, user_id) for user_id in guild.members],
            "channels": [self.channels[c] for c in guild.channel_ids],
            "threads": [],
            "presences": [],
            "voice_states": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
        }
