"""Moderators ban and unban; everyone else is refused; every action lands in the audit log."""

from __future__ import annotations

from bot.commands import dispatch
from bot.engine import Engine
from bot.identity import UserRef
from bot.replies import Outcome, to_plain
from tests.helpers import button, open_task


async def test_a_member_running_a_moderator_command_is_refused(engine: Engine, person, cafe) -> None:
    ana, bob = person("Ana"), person("Bob")
    await engine.tasks.start(await engine.context(bob, cafe))
    for command in ("/ban bob", "/unban bob", "/audit"):
        reply = await dispatch(engine, ana, cafe, command)
        assert reply is not None and reply.outcome == Outcome.REFUSED, command
        assert "Only moderators" in to_plain(reply.text)
    assert await engine.services.store.fetchval("SELECT COUNT(*) FROM bans") == 0


async def test_a_banned_member_cannot_answer_until_unbanned(engine: Engine, person, cafe) -> None:
    mod, bob = person("Mod"), person("Bob")
    question = await open_task(engine, bob, cafe, "What do you order")
    banned = await dispatch(engine, mod, cafe, "/ban bob")
    assert banned is not None and banned.outcome == Outcome.DONE
    refused = await engine.act(bob, cafe, button(question, "Latte"))
    assert refused.outcome == Outcome.REFUSED and "paused" in to_plain(refused.text)
    assert (await engine.tasks.next_task(await engine.context(bob, cafe))).outcome == Outcome.REFUSED
    await dispatch(engine, mod, cafe, "/unban bob")
    assert (await engine.act(bob, cafe, button(question, "Latte"))).outcome == Outcome.DONE
    audit = await dispatch(engine, mod, cafe, "/audit")
    assert audit is not None
    assert [line.split(" · ")[2].split()[0] for line in to_plain(audit.text).splitlines()[1:]] == [
        "unban",
        "ban",
    ]


async def test_a_platform_admin_is_a_moderator_through_the_adapters_check(engine: Engine, cafe) -> None:
    admin = UserRef("telegram", "42", "Admin", "en")

    async def chat_admins(user: UserRef, space) -> bool:
        return user.platform_user_id == "42"

    assert (await engine.moderation.audit_log(await engine.context(admin, cafe))).outcome == Outcome.REFUSED
    engine.moderation.register_check("telegram", chat_admins)
    assert (await engine.moderation.audit_log(await engine.context(admin, cafe))).outcome == Outcome.INFO
