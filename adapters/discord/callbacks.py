"""An interaction's response as a prepared JSON body, posted without asking for it back.

discord.py 2.7 answers an interaction (``InteractionResponse.send_message``, ``edit_message``) with
``?with_response=1``: Discord then returns the whole message it showed, which discord.py parses into a
:class:`discord.Message` inside an ``InteractionCallbackResponse``. The adapter never reads it, and in
the closed-loop benchmark that round trip (Discord serialising the message, discord.py decoding and
parsing it, the view's components rebuilt from discord.py's items for every tap) was about a fifth of
the bot's CPU per tap. :class:`Callbacks` posts the same body discord.py would (the callback type, the
message, no mentions) to the same route, Discord answers ``204 No Content``, and nothing is parsed.

The route and the body are Discord's documented API (``POST /interactions/{id}/{token}/callback``);
what this leaves out of discord.py is only its bookkeeping of the interaction: ``response.is_done()``
stays ``False``, so :class:`~adapters.discord.responding.Responder` keeps its own record. Retries are
discord.py's webhook adapter's: a 5xx after 1, 3, 5… seconds, a 429 only when a proxy (``Via``) sent it
(Discord's own 429 is raised), at most five attempts; failures raise discord.py's exceptions, so
callers catch what they caught before. Messages with files still go through discord.py (multipart).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import discord

JSON = dict[str, Any]
ATTEMPTS = 5  # as discord.py's webhook adapter
# Discord asks every client for a User-Agent naming its library; these requests are discord.py's own.
USER_AGENT = f"DiscordBot (https://github.com/Rapptz/discord.py {discord.__version__}) aiohttp/{aiohttp.__version__}"
HEADERS = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
RESET_ERRNOS = (54, 10054)  # connection reset by peer (BSD, Windows): discord.py retries those too
CHANNEL_MESSAGE, UPDATE_MESSAGE = 4, 7  # the callback types sent here (Discord's InteractionCallbackType)


def error_for(response: aiohttp.ClientResponse, body: JSON | str) -> discord.HTTPException:
    """discord.py's exception for a refused request, so callers catch what they always caught."""
    if response.status == 403:
        return discord.Forbidden(response, body)
    if response.status == 404:
        return discord.NotFound(response, body)
    if response.status >= 500:
        return discord.DiscordServerError(response, body)
    return discord.HTTPException(response, body)


async def _body(response: aiohttp.ClientResponse) -> JSON | str:
    text = await response.text(encoding="utf-8")
    if response.headers.get("Content-Type", "").startswith("application/json"):
        try:
            parsed: JSON = json.loads(text)
        except ValueError:
            return text
        return parsed
    return text


def _retry_after(response: aiohttp.ClientResponse, refusal: JSON | str, attempt: int) -> float | None:
    """Seconds to wait before trying a refused callback again, or ``None``: raise it."""
    if response.status == 429 and response.headers.get("Via") and isinstance(refusal, dict):
        return float(refusal.get("retry_after", 1.0))
    if response.status >= 500:
        return 1.0 + attempt * 2
    return None


class Callbacks:
    """Posts interaction responses on a session of its own (opened at the first, closed by :meth:`close`).

    A session of its own rather than discord.py's: the client's is private to discord.py, and this one
    carries no bot token (an interaction's token authorises its callback).
    """

    def __init__(self, api_base: str) -> None:
        self._base = api_base.rstrip("/")
        self._session: aiohttp.ClientSession | None = None

    async def respond(self, interaction: discord.Interaction, kind: int, data: JSON) -> None:
        """Answer ``interaction`` with callback ``kind`` carrying message ``data``; raise as discord.py would."""
        body = json.dumps({"type": kind, "data": data}, separators=(",", ":")).encode()
        url = f"{self._base}/interactions/{interaction.id}/{interaction.token}/callback"
        if self._session is None:
            self._session = aiohttp.ClientSession()
        for attempt in range(ATTEMPTS):
            last = attempt == ATTEMPTS - 1
            try:
                async with self._session.post(url, data=body, headers=HEADERS) as response:
                    if response.status < 300:
                        return
                    refusal = await _body(response)
                    wait = None if last else _retry_after(response, refusal, attempt)
                    if wait is None:
                        raise error_for(response, refusal)
            except OSError as reset:
                if last or reset.errno not in RESET_ERRNOS:
                    raise
                wait = 1.0 + attempt * 2
            await asyncio.sleep(wait)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
