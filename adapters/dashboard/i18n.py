"""The dashboard's language: picked per request from the browser's ``Accept-Language``, English otherwise.

Labels and messages live in ``bot/locales/<language>/dashboard.toml`` under ``[web]``, beside the chat's
sentences, so one translator sees them all and the locale tests check Romanian covers every key. Pages
get them as plain text: Jinja's autoescaping, not the chat's reply markup, makes them safe in HTML.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.requests import Request

from bot.replies import to_plain
from bot.texts import FALLBACK, available_languages, t

Translate = Callable[..., str]


def language_of(request: Request) -> str:
    """The supported language the browser prefers most (``ro-RO,ro;q=0.9,en;q=0.8`` → ``ro``)."""
    supported = set(available_languages())
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(request.headers.get("accept-language", "").split(",")):
        code, _, parameters = part.strip().partition(";")
        base = code.strip().split("-")[0].lower()
        quality = 1.0
        if parameters.strip().startswith("q="):
            try:
                quality = float(parameters.strip()[2:])
            except ValueError:
                continue
        if base in supported and quality > 0:
            ranked.append((-quality, position, base))
    return min(ranked)[2] if ranked else FALLBACK


def translator(language: str, section: str = "web.") -> Translate:
    """``_("nav.rounds")``: the ``web.*`` message in ``language`` as plain text (variables filled in);
    with ``section=""`` any chat message, so a page shows the chat's own words for the same thing."""

    def translate(key: str, **variables: object) -> str:
        return to_plain(t(f"{section}{key}", language, **variables))

    return translate


def text(request: Request, key: str, **variables: object) -> str:
    """One ``web.*`` message in the request's language (an error or a refusal outside a template)."""
    return translator(language_of(request))(key, **variables)
