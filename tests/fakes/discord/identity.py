"""Who the bot is and where the gateway is: ``/users``, ``/applications/@me`` and ``/gateway(/bot)``.

Why a module: these are what discord.py asks before anything else (``login`` reads ``/users/@me``,
``AutoShardedClient`` takes its shard count from ``/gateway/bot``), answered from the world's bot user
and application.
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from .protocol import ApiError, json_response
from .rest import Route
from .world import World


class IdentityRoutes:
    """The bot user, other users, the application and gateway discovery."""

    def __init__(self, world: World, recommended_shards: Callable[[], int]) -> None:
        """``recommended_shards`` is read at each request: a test may change it after starting."""
        self._world, self._recommended_shards = world, recommended_shards

    def routes(self) -> list[Route]:
        return [
            ("GET", "/users/@me", self._get_me),
            ("GET", "/users/{user_id}", self._get_user),
            ("GET", "/applications/@me", self._get_application),
            ("GET", "/oauth2/applications/@me", self._get_application),
            ("GET", "/gateway", self._get_gateway),
            ("GET", "/gateway/bot", self._get_gateway_bot),
        ]

    async def _get_me(self, request: web.Request) -> web.Response:
        return json_response(
            {**self._world.bot, "verified": True, "mfa_enabled": False, "email": None, "locale": "en-US"}
        )

    async def _get_user(self, request: web.Request) -> web.Response:
        user = self._world.users.get(int(request.match_info["user_id"]))
        if user is None:
            raise ApiError(404, 10013, "Unknown User")
        return json_response(user)

    async def _get_application(self, request: web.Request) -> web.Response:
        return json_response(
            {
                "id": str(self._world.app_id),
                "name": self._world.bot["username"],
                "icon": None,
                "description": "",
                "summary": "",
                "bot_public": True,
                "bot_require_code_grant": False,
                "owner": self._world.owner,
                "team": None,
                "verify_key": "0" * 64,
                "flags": 0,
                "bot": self._world.bot,
                "interactions_endpoint_url": None,
                "redirect_uris": [],
                "tags": [],
                "approximate_guild_count": len(self._world.guilds),
            }
        )

    async def _get_gateway(self, request: web.Request) -> web.Response:
        return json_response({"url": self._world.ws_url})

    async def _get_gateway_bot(self, request: web.Request) -> web.Response:
        limit = {"total": 1000, "remaining": 999, "reset_after": 14_400_000, "max_concurrency": 1}
        return json_response(
            {"url": self._world.ws_url, "shards": self._recommended_shards(), "session_start_limit": limit}
        )
