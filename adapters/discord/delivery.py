"""The outbox on Discord: announcements to a server's channel, notices by direct message, paced.

With ``discord.shard_ids`` a process runs only those shards of ``discord.shard_count``; Discord sends each
server's events to the one process holding its shard, and all of them share the database and its
outbox. Only the process whose shard holds a server has it (its channels, the bot's permissions there)
in its cache, so another process hands that server's announcement back for later instead of giving it
up (:meth:`Delivery.shard_elsewhere`).
"""

from __future__ import annotations

import aiohttp
import discord

from adapters.discord.interactions import PLATFORM
from adapters.discord.limits import CHANNEL_INTERVAL, REQUESTS_PER_SECOND
from adapters.discord.rendering import render
from bot.engine import Engine
from bot.outbox.drainer import SENDING_KEY, DeliveryFailed, DeliveryRetry, OutboxDrainer, Pacer
from bot.replies import Reply
from bot.settings import DiscordSettings

RETRY_SECONDS = 5.0
ELSEWHERE_SECONDS = 1.0  # an outbox message for a server another process's shard holds goes back this long


def shard_of(guild_id: int, shard_count: int) -> int:
    """The shard Discord sends a server's events to: ``(guild_id >> 22) % shard_count``.

    The top bits of a snowflake are its creation time, so a server stays on its shard while the count
    stays the same.
    """
    return (guild_id >> 22) % shard_count


def announcement_channel(guild: discord.Guild) -> discord.TextChannel | None:
    """Where a server's announcements and results go: its system channel, else the first text channel
    the bot may post files and embeds in (the order members see)."""
    for channel in (guild.system_channel, *guild.text_channels):
        if channel is None:
            continue
        allowed = channel.permissions_for(guild.me)
        if allowed.view_channel and allowed.send_messages and allowed.attach_files and allowed.embed_links:
            return channel
    return None


class Delivery:
    """Sends the outbox's messages for this process's shards through ``client``."""

    def __init__(self, engine: Engine, settings: DiscordSettings, client: discord.Client) -> None:
        self.engine = engine
        self.settings = settings
        self.client = client

    def drainer(self) -> OutboxDrainer:
        pacer = Pacer(per_second=REQUESTS_PER_SECOND, per_target_interval=CHANNEL_INTERVAL)
        return OutboxDrainer(self.engine, PLATFORM, self.send_from_outbox, pacer)

    async def send_from_outbox(self, target: str, reply: Reply) -> None:
        """The drainer's sender: ``space:<server>`` posts in its announcement channel, ``user:<id>`` DMs.

        Raises:
            DeliveryFailed: Discord will never take it (DMs closed: 50007, no channel, missing access).
            DeliveryRetry: Discord is failing (5xx) or unreachable, or the server is on a shard another
                process runs; the drainer (of whichever process claims it next) tries again later.
        """
        kind, _, raw_id = target.partition(":")
        key = SENDING_KEY.get()
        try:
            destination = await self._destination(kind, int(raw_id))
            messages = [message for part in reply.chain() for message in await render(part)]
            for number, message in enumerate(messages):
                sending = message.send_kwargs()
                if key is not None:
                    # The same nonce on every attempt: Discord answers a repeat with the first message (see
                    # OutboxDrainer: what a crash between the send and its mark costs).
                    sending["nonce"] = f"{key}.{number}"
                await destination.send(**sending)
        except discord.HTTPException as error:
            reason = f"{error.status} {error.code}: {error.text}"
            if error.status >= 500:
                raise DeliveryRetry(RETRY_SECONDS, reason) from error
            raise DeliveryFailed(reason) from error
        except (aiohttp.ClientError, OSError) as error:
            raise DeliveryRetry(RETRY_SECONDS, repr(error)) from error

    async def _destination(self, kind: str, ident: int) -> discord.abc.Messageable:
        if kind == "user":
            return self.client.get_user(ident) or await self.client.fetch_user(ident)
        guild = self.client.get_guild(ident)
        if guild is not None:
            channel = announcement_channel(guild)
            if channel is None:
                raise DeliveryFailed(f"no channel in server {ident} takes the bot's messages")
            return channel
        elsewhere = self.shard_elsewhere(ident)
        if elsewhere is not None:
            raise DeliveryRetry(ELSEWHERE_SECONDS, f"shard {elsewhere} (another process's) holds {kind} {ident}")
        found = self.client.get_channel(ident) or await self.client.fetch_channel(ident)  # a direct message
        if not isinstance(found, discord.abc.Messageable):
            raise DeliveryFailed(f"channel {ident} takes no messages")
        return found

    def shard_elsewhere(self, guild_id: int) -> int | None:
        """The shard of a server this process does not run, or ``None`` when it runs that shard.

        A direct message's channel id is no server id, but every shard is run by some process, so it
        still reaches one that can send it.
        """
        shard_ids, shard_count = self.settings.shard_ids, self.settings.shard_count
        if shard_ids is None or shard_count is None:
            return None  # this process runs every shard
        shard = shard_of(guild_id, shard_count)
        return None if shard in shard_ids else shard
