"""An interaction's response and follow-ups as prepared JSON, posted without parsing what comes back.

discord.py 2.7 answers an interaction (``InteractionResponse.send_message``, ``edit_message``,
``send_modal``) with ``?with_response=1``: Discord then returns the whole message it showed, which
discord.py parses into a :class:`discord.Message` inside an ``InteractionCallbackResponse``; a follow-up
(``Webhook.send``) is parsed into a ``WebhookMessage``. The adapter never reads either, and in the
closed-loop benchmark those round trips (Discord serialising the message, discord.py decoding and
parsing it, the view's components rebuilt from discord.py's items for every tap) were about a fifth of
the bot's CPU per tap. :class:`Callbacks` posts the body discord.py would (the callback type, the
message, no mentions; ``payload_json`` and ``files[n]`` when it has files) to the same routes; Discord
answers a response with ``204 No Content`` and nothing is parsed.

The routes and bodies are Discord's documented API (``POST /interactions/{id}/{token}/callback``,
``POST /webhooks/{application_id}/{token}``); what this leaves out of discord.py is only its bookkeeping
of the interaction (``response.is_done()`` stays ``False``, so
:class:`~adapters.discord.responding.Responder` keeps its own). Retries are discord.py's webhook
adapter's: a 5xx after 1, 3, 5… seconds, a 429 only when a proxy (``Via``) sent it (Discord's own 429 is
raised, with the same warning per retry), at most five attempts. A refusal raises discord.py's
exception for it, a connection that fails ``OSError``: callers catch :data:`UNSENT`.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from typing import Any

import aiohttp
import discord
import yarl

from adapters.discord.rendering import Upload
from adapters.keepalive_http import KeepAliveClient, Response

log = logging.getLogger(__name__)

JSON = dict[str, Any]
ATTEMPTS = 5  # as discord.py's webhook adapter
# Discord asks every client for a User-Agent naming its library; these requests are discord.py's own.
USER_AGENT = f"DiscordBot (https://github.com/Rapptz/discord.py {discord.__version__}) aiohttp/{aiohttp.__version__}"
HEADERS = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
RESET_ERRNOS = (54, 10054)  # connection reset by peer (BSD, Windows): discord.py retries those too
CHANNEL_MESSAGE, UPDATE_MESSAGE, MODAL = 4, 7, 9  # the callback types sent here (InteractionCallbackType)
# What a request that did not go out raises: these callbacks, and discord.py's own requests (aiohttp's).
UNSENT = (discord.HTTPException, aiohttp.ClientError, OSError)


async def _multipart(payload_json: str, uploads: Sequence[Upload]) -> tuple[bytes, dict[str, str]]:
    """The body discord.py sends a message with files in (``payload_json``, then ``files[n]``), encoded by
    aiohttp's form as discord.py's is, and its headers (the multipart type names the boundary)."""
    form = aiohttp.FormData(quote_fields=False)
    form.add_field("payload_json", payload_json, content_type="application/json")
    for index, (data, name) in enumerate(uploads):
        form.add_field(f"files[{index}]", data, filename=name, content_type="application/octet-stream")
    encoded = form()
    return await encoded.as_bytes(), {"Content-Type": encoded.content_type, "User-Agent": USER_AGENT}


def error_for(response: Response, body: JSON | str) -> discord.HTTPException:
    """discord.py's exception for a refused request, so callers catch what they always caught (it reads
    the response's ``status``, ``reason`` and ``headers``, which :class:`Response` has as aiohttp's has)."""
    answered: Any = response
    if response.status == 403:
        return discord.Forbidden(answered, body)
    if response.status == 404:
        return discord.NotFound(answered, body)
    if response.status >= 500:
        return discord.DiscordServerError(answered, body)
    return discord.HTTPException(answered, body)


def _body(response: Response) -> JSON | str:
    text = response.body.decode("utf-8", errors="replace")
    if response.headers.get("Content-Type", "").startswith("application/json"):
        try:
            parsed: JSON = json.loads(text)
        except ValueError:
            return text
        return parsed
    return text


def _retry_after(response: Response, refusal: JSON | str, attempt: int, what: str) -> float | None:
    """Seconds to wait before trying a refused callback again, or ``None``: raise it."""
    if response.status == 429 and response.headers.get("Via") and isinstance(refusal, dict):
        wait = float(refusal.get("retry_after", 1.0))
        # discord.py's warning, one per 429 (folded while the bot runs: adapters.log_repeats)
        log.warning("platform=discord %s is rate limited. Retrying in %.2f seconds.", what, wait)
        return wait
    if response.status >= 500:
        return 1.0 + attempt * 2
    return None


class Callbacks:
    """Posts interaction responses on connections of its own (opened at the first, closed by :meth:`close`).

    Connections of its own rather than discord.py's session: that one is private to discord.py, and
    these requests carry no bot token (an interaction's token authorises its callback). Bodies are sent
    by :class:`~adapters.keepalive_http.KeepAliveClient`; a message with files is encoded by aiohttp's
    form, as discord.py encodes it.
    """

    def __init__(self, api_base: str) -> None:
        api = yarl.URL(api_base.rstrip("/"))
        self._origin = str(api.origin())
        self._path = api.raw_path  # the ids are digits and Discord's tokens URL-safe: nothing to quote
        self._client: KeepAliveClient | None = None
        self._closed = False

    async def respond(
        self, interaction: discord.Interaction, kind: int, data: JSON, uploads: Sequence[Upload] = ()
    ) -> None:
        """Answer ``interaction`` with callback ``kind`` carrying ``data`` (a message and its files, a
        form's ``Modal.to_dict()``); raise as discord.py would."""
        target = f"{self._path}/interactions/{interaction.id}/{interaction.token}/callback"
        await self._post(target, {"type": kind, "data": data}, uploads, "response")

    async def follow_up(self, interaction: discord.Interaction, data: JSON, uploads: Sequence[Upload] = ()) -> None:
        """Post message ``data`` as a follow-up on ``interaction``'s token (Discord always returns the
        message, discord.py asks with ``wait=1`` as here; it is not parsed)."""
        target = f"{self._path}/webhooks/{interaction.application_id}/{interaction.token}?wait=1"
        await self._post(target, data, uploads, "follow-up")

    async def _post(self, target: str, payload: JSON, uploads: Sequence[Upload], what: str) -> None:
        """POST ``payload`` to ``target`` (which holds a token: never logged), retried as discord.py does."""
        text = json.dumps(payload, separators=(",", ":"))
        body, headers = await _multipart(text, uploads) if uploads else (text.encode(), HEADERS)
        if self._client is None:
            if self._closed:
                raise RuntimeError("Session is closed")
            self._client = KeepAliveClient(self._origin)
        for attempt in range(ATTEMPTS):
            last = attempt == ATTEMPTS - 1
            try:
                response = await self._client.request("POST", target, body, headers)
                if response.status < 300:
                    return
                refusal = _body(response)
                wait = None if last else _retry_after(response, refusal, attempt, what)
                if wait is None:
                    raise error_for(response, refusal)
            except OSError as reset:
                if last or reset.errno not in RESET_ERRNOS:
                    raise
                wait = 1.0 + attempt * 2
            await asyncio.sleep(wait)

    async def close(self) -> None:
        """Close for good: a handler still answering afterwards gets "Session is closed", as from
        discord.py's closed client, rather than opening connections nobody closes."""
        self._closed = True
        if self._client is not None:
            await self._client.close()
