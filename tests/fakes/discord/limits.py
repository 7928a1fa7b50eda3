"""Every limit the fake enforces on time and volume, each in one place: the interaction clocks, each
route's rate-limit bucket and a channel's own flood limits.

Why together: a bot that bursts, answers late or floods a channel is refused here exactly as Discord refuses
it (a 429 discord.py waits out, a 10062 for a late answer), and the 429's shape must be the same wherever it
comes from. Payload limits (lengths, counts) are in :mod:`.validation` and :mod:`.commands`.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from aiohttp import web

from .protocol import ApiError
from .records import FloodError

RESPONSE_WINDOW = 3.0  # seconds Discord waits for the initial interaction response
TOKEN_LIFETIME = 15 * 60.0  # seconds an interaction token stays usable for follow-ups


def rate_limited(
    retry_after: float,
    *,
    is_global: bool,
    headers: Mapping[str, str] | None = None,
    injected: bool = False,
    scope: str = "user",
) -> ApiError:
    """A 429 as Discord sends it; the ``Via`` header is what tells discord.py it is not a Cloudflare ban.

    ``scope`` is ``user`` for the bot's own bucket on a route, ``shared`` for a resource's limit that
    every request into it shares (a channel's); a global 429 says ``global`` whatever ``scope`` is.
    """
    return ApiError(
        429,
        None,
        "You are being rate limited.",
        extra={"retry_after": retry_after, "global": is_global},
        headers={
            **(headers or {}),
            "Via": "1.1 google",
            "Retry-After": str(math.ceil(retry_after)),
            "X-RateLimit-Scope": "global" if is_global else scope,
            **({"X-RateLimit-Global": "true"} if is_global else {}),
        },
        injected=injected,
    )


@dataclass(frozen=True, slots=True)
class FloodLimits:
    """Discord's limits on what a bot posts into one channel, on top of each route's own bucket.

    Each is ``(messages, seconds)``: a fixed window per channel, as Discord counts. Discord does not
    publish them; the defaults are what bot developers measured (discord-api-docs #2701, #3763): 5
    channel messages per 5 s, and 30 webhook messages per 60 s, interaction follow-ups (ephemeral ones
    too) included. Interaction responses are not counted. Beyond a limit the request gets a 429 with
    ``X-RateLimit-Scope: shared`` and the route's own headers, which discord.py cannot foresee: it waits
    ``retry_after`` and tries again, up to five times. Tests pass smaller windows to keep a flood short.
    """

    channel_messages: tuple[int, float] = (5, 5.0)
    channel_followups: tuple[int, float] = (30, 60.0)


class Windows:
    """Fixed windows of ``limit`` requests per ``window`` seconds, one per key, as Discord counts them."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit, self._window = limit, window
        self._counts: dict[str, tuple[float, int]] = {}

    def hit(self, key: str, now: float) -> tuple[int, float]:
        """Count a request; the requests in the key's window with it, and the seconds until it resets."""
        started, used = self._counts.get(key, (now, 0))
        if now - started >= self._window:
            started, used = now, 0
        self._counts[key] = (started, used + 1)
        return used + 1, max(self._window - (now - started), 0.001)


class RateLimiter:
    """Fixed-window per-route buckets reported in ``X-RateLimit-*`` headers.

    discord.py paces itself from these headers, so a bursting bot is slowed here the way production slows
    it instead of sailing through; exceeding a bucket anyway gets a real 429.
    """

    def __init__(self, limit: int, window: float) -> None:
        self._windows = Windows(limit, window)

    def hit(self, route: str, major: str) -> dict[str, str]:
        now = time.time()
        used, reset_after = self._windows.hit(f"{route}:{major}", now)
        limit = self._windows.limit
        headers = {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(max(limit - used, 0)),
            "X-RateLimit-Reset": f"{now + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": hashlib.sha1(route.encode()).hexdigest()[:16],
        }
        if used > limit:
            raise rate_limited(round(reset_after, 3), is_global=False, headers=headers)
        return headers


class FloodControl:
    """A channel's own limits (:class:`FloodLimits`) on the messages posted into it; off when ``None``.

    The 429s it gives are noted in ``errors`` (the server's ``flood_errors``), so a test can tell a flood
    the bot waited out from one it never caused.
    """

    def __init__(self, limits: FloodLimits | None) -> None:
        self.errors: list[FloodError] = []
        self._windows: dict[str, Windows] = {}
        if limits is not None:
            self._windows = {
                "messages": Windows(*limits.channel_messages),
                "followups": Windows(*limits.channel_followups),
            }

    def check(
        self,
        request: web.Request,
        path: str,
        rate_headers: Mapping[str, str],
        followup_channel: Callable[[str], int | None],
    ) -> None:
        """A message into a channel beyond the channel's limit gets a shared 429. ``followup_channel``
        names the channel an interaction token's follow-ups go to (``None`` for an unknown token)."""
        if not self._windows or request.method != "POST":
            return
        info = request.match_info
        channel_id: int | None
        if "channel_id" in info and path.endswith("/messages"):
            kind, channel_id = "messages", int(info["channel_id"])
        elif "token" in info and path.startswith("/webhooks/"):
            kind, channel_id = "followups", followup_channel(info["token"])
        else:
            return
        if channel_id is None:
            return
        windows = self._windows[kind]
        used, reset_after = windows.hit(str(channel_id), time.time())
        if used > windows.limit:
            retry_after = round(reset_after, 3)
            self.errors.append(FloodError(request.method, path, channel_id, retry_after))
            raise rate_limited(retry_after, is_global=False, headers=rate_headers, scope="shared")
