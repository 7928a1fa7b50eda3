"""Who is signed in to the dashboard, and how they got there: passwords, one-time links, CSRF.

A session is Starlette's signed cookie (``HttpOnly; SameSite=Lax``, ``Secure`` when the dashboard's
address is HTTPS) holding who signed in and the session's CSRF token; every form post carries that token
and is refused without it. A password teammate's role is read again on every request, so changing it
(``crowdpulse dashboard-user add``) takes effect at once. A teammate who came through a chat link acts as
their chat account: the engine's own moderator check decides, community by community.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request

from adapters.dashboard.i18n import language_of
from bot.identity import UserRef
from bot.store.base import Store

Role = Literal["owner", "moderator", "viewer"]
ROLES: tuple[Role, ...] = ("owner", "moderator", "viewer")
DASHBOARD_PLATFORM = "dashboard"  # the platform of password teammates' accounts (audit rows name them)
_HASHER = PasswordHasher()  # argon2id with argon2-cffi's recommended parameters
# Verified when a name is unknown, so a wrong name costs the same time as a wrong password.
_DUMMY_HASH = _HASHER.hash(secrets.token_hex(16))


MIN_PASSWORD_LENGTH = 12
MAX_NAME_LENGTH = 64


class TeammateError(ValueError):
    """A teammate refused: a short password, an empty or long name, an unknown role (``args`` holds the
    ``web.*`` message key and its variables, so each front end says it in its own words)."""


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


async def save_teammate(store: Store, name: str, password: str, role: str, now: datetime) -> None:
    """Add a teammate, or give one a new password and role: ``crowdpulse dashboard-user add`` and the
    Team page both come here, so the rules and the argon2id hash are one.

    Raises:
        TeammateError: the name, the password or the role is refused; nothing is saved.
    """
    if not name.strip() or len(name) > MAX_NAME_LENGTH:
        raise TeammateError("team.bad_name", {"limit": MAX_NAME_LENGTH})
    if len(password) < MIN_PASSWORD_LENGTH:
        raise TeammateError("team.short_password", {"minimum": MIN_PASSWORD_LENGTH})
    if role not in ROLES:
        raise TeammateError("team.bad_role", {})
    await store.dashboard.save_teammate(name.strip(), hash_password(password), role, now)


async def check_password(store: Store, name: str, password: str) -> bool:
    """Whether ``password`` is ``name``'s; the same work whether or not ``name`` exists."""
    teammate = await store.dashboard.teammate(name)
    try:
        return _HASHER.verify(teammate.password_hash if teammate else _DUMMY_HASH, password) and teammate is not None
    except (VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True, slots=True)
class Principal:
    """The signed-in teammate: a password account (``platform`` is ``dashboard``) or a chat account."""

    platform: str
    platform_user_id: str
    display_name: str
    role: Role
    language: str | None = None  # a password account's: the browser's, as a chat client sends its own

    @property
    def user(self) -> UserRef:
        """The account the engine's use cases run as (their replies, shown as the page's notice, in the
        language of a password account's browser; a chat account keeps its own)."""
        return UserRef(self.platform, self.platform_user_id, self.display_name, self.language)

    @property
    def may_act(self) -> bool:
        return self.role != "viewer"

    @property
    def by_password(self) -> bool:
        return self.platform == DASHBOARD_PLATFORM


def sign_in(request: Request, platform: str, platform_user_id: str, display_name: str) -> None:
    """Start a fresh session (a new CSRF token too: nothing from before signing in is kept)."""
    request.session.clear()
    request.session.update(
        {"platform": platform, "id": platform_user_id, "name": display_name, "csrf": secrets.token_urlsafe(32)}
    )


async def principal(request: Request, store: Store) -> Principal | None:
    """Who this request's session belongs to; ``None`` when nobody (or a deleted teammate)."""
    session = request.session
    if "platform" not in session:
        return None
    if session["platform"] != DASHBOARD_PLATFORM:
        return Principal(session["platform"], session["id"], session["name"], "moderator")
    teammate = await store.dashboard.teammate(session["id"])
    if teammate is None:
        return None
    role: Role = "owner" if teammate.role == "owner" else "moderator" if teammate.role == "moderator" else "viewer"
    return Principal(DASHBOARD_PLATFORM, teammate.name, teammate.name, role, language_of(request))


def csrf_token(request: Request) -> str:
    """The session's CSRF token, made on first use (the sign-in form needs one before anyone signs in)."""
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


async def checked_form(request: Request) -> FormData:
    """The posted form, refused (403) unless it carries this session's CSRF token."""
    form = await request.form()
    sent = form.get("csrf")
    expected = request.session.get("csrf")
    if not isinstance(sent, str) or not isinstance(expected, str) or not hmac.compare_digest(sent, expected):
        raise HTTPException(403, "error.csrf")
    return form
