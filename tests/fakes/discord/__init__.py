"""A fake Discord (REST ``/api/v10`` + gateway WebSocket) an unmodified discord.py client runs against.

Why a server and not mocks: the Discord adapter's bugs live in the seams discord.py hides — the 3-second
acknowledgement window, "respond exactly once", follow-ups riding on the interaction token, 429 handling,
payload limits Discord enforces server-side, RESUME after a dropped socket. Mocking discord.py's objects
would test our assumptions about those seams; running the real library against a server that enforces
them tests the adapter.

Point discord.py at it (both are read at call time, so patch before ``login``/``connect``)::

    discord.http.Route.BASE = f"{fake.url}/api/v10"
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.ws_url)

Sharding works as on Discord, so several clients (processes) can share one bot: every IDENTIFY opens a
session on the ``shard: [id, count]`` it names (``[0, 1]`` when it names none), and each session gets the
events of the guilds with ``(guild_id >> 22) % count == id`` (``gateway.shard_for``, computed per session
with its own count) — their GUILD_CREATE, the interactions in them — while events outside any guild (direct
messages) go to shard 0. ``GET /gateway/bot`` recommends ``recommended_shards``. Two sessions on the same
shard both get its events, exactly what Discord does to two processes that both run it.

Rate limits: every route has a fixed-window bucket per major parameter (channel, guild, webhook token),
announced in ``X-RateLimit-*`` headers as discord.py expects (``rate_limit`` per ``rate_window``).
``flood_limits`` (off by default, like the fake Telegram's) adds a channel's own limits on the messages
posted into it, follow-ups included (``limits.FloodLimits``): 429s scoped ``shared``, noted in
``flood_errors``.

Where things are: ``server`` (``FakeDiscordServer``: lifecycle, wiring, the driver API in one place),
``world`` (users, guilds, roles, members, channels and their payloads), ``gateway`` (sessions, IDENTIFY and
RESUME, sharding, dispatches), ``interactions`` (``InteractionHandle`` and the registry that dispatches
them), ``user_actions`` and ``user_input`` (members running commands, clicking, picking, filling in modals),
one module per area of REST routes (``identity``, ``commands``, ``responses`` for interaction callbacks and
follow-ups, ``channels`` for channels, messages, DMs, guilds and members) over the ``messages`` store and the
``rest`` pipeline (recording, auth, injected faults), ``limits`` (clocks, rate limits, flood limits) and
``validation`` (payload limits), ``components``, ``protocol`` and ``records`` (the shared vocabulary).
"""
