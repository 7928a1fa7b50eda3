"""A member answers every kind of task; invalid answers get a clear message and change nothing."""

from __future__ import annotations

import json

from bot.engine import Engine
from bot.identity import SpaceRef, UserRef
from bot.replies import Outcome, to_plain
from tests.helpers import answer_tasks, button, last, open_task


async def answers_of(engine: Engine, task_id: str) -> list[str]:
    rows = await engine.services.store.fetchall("SELECT value FROM answers WHERE task_id = ?", (task_id,))
    return [row[0] for row in rows]


async def test_member_answers_a_single_choice_and_earns_its_points(engine: Engine, person, cafe: SpaceRef) -> None:
    ana = person("Ana")
    reply = await open_task(engine, ana, cafe, "What do you order")
    answered = await engine.act(ana, cafe, button(reply, "Latte"))
    assert answered.outcome == Outcome.DONE
    assert "Latte" in to_plain(answered.text) and "+5" in to_plain(answered.text)
    assert await answers_of(engine, "drink") == ["1"]
    assert await engine.points.balance(await engine.context(ana, cafe)) == 5
    assert answered.follow_up is not None and "Skip" in str(answered.follow_up.buttons)


async def test_tapping_the_same_answer_twice_counts_once(engine: Engine, person, cafe: SpaceRef) -> None:
    ana = person("Ana")
    reply = await open_task(engine, ana, cafe, "What do you order")
    token = button(reply, "Espresso")
    first = await engine.act(ana, cafe, token)
    second = await engine.act(ana, cafe, button(reply, "Tea"))
    assert first.outcome == Outcome.DONE
    assert second.outcome == Outcome.ALREADY_DONE
    assert "already answered" in to_plain(second.text)
    assert await answers_of(engine, "drink") == ["0"]
    assert await engine.points.balance(await engine.context(ana, cafe)) == 5


async def test_tea_drinkers_get_the_tea_follow_up_and_others_do_not(engine: Engine, person, cafe: SpaceRef) -> None:
    ana, bob = person("Ana"), person("Bob")
    tea = last(await engine.act(ana, cafe, button(await open_task(engine, ana, cafe, "order"), "Tea")))
    coffee = last(await engine.act(bob, cafe, button(await open_task(engine, bob, cafe, "order"), "Espresso")))
    assert "Which tea" in to_plain(tea.text)
    assert "Which tea" not in to_plain(coffee.text)
    assert "extras" in to_plain(coffee.text)


async def test_romanian_speakers_see_romanian_and_their_own_task(engine: Engine, person, cafe: SpaceRef) -> None:
    mihai = person("Mihai", "ro-RO")
    reply = await engine.tasks.next_task(await engine.context(mihai, cafe))
    assert "Ce comanzi cel mai des?" in to_plain(reply.text)
    await open_task(engine, mihai, cafe, "Ce program")
    ana = person("Ana")
    for_ana = await engine.tasks.next_task(await engine.context(ana, cafe))
    for _ in range(12):
        assert "opening hours" not in to_plain(for_ana.text)
        if not for_ana.buttons:
            break
        for_ana = last(await engine.act(ana, cafe, button(for_ana, "Skip")))


async def test_multi_choice_toggles_then_submits_within_the_pick_limits(engine: Engine, person, cafe) -> None:
    ana = person("Ana")
    reply = await open_task(engine, ana, cafe, "extras")
    nothing = await engine.act(ana, cafe, button(reply, "Submit (0)"))
    assert nothing.outcome == Outcome.REFUSED and "between 1 and 2" in to_plain(nothing.text)
    one = await engine.act(ana, cafe, button(reply, "Oat milk"))
    assert one.edit and "☑ Oat milk" in str(one.buttons)
    two = await engine.act(ana, cafe, button(one, "Extra shot"))
    three = await engine.act(ana, cafe, button(two, "Vanilla"))
    too_many = await engine.act(ana, cafe, button(three, "Submit (3)"))
    assert too_many.outcome == Outcome.REFUSED
    done = await engine.act(ana, cafe, button(two, "Submit (2)"))
    assert done.outcome == Outcome.DONE
    assert json.loads((await answers_of(engine, "extras"))[0]) == [0, 1]


async def test_multi_choice_from_a_select_menu(engine: Engine, person, cafe) -> None:
    ana = person("Ana")
    reply = await open_task(engine, ana, cafe, "extras")
    assert reply.select is not None and reply.select.max_values == 2
    wrong = await engine.act(ana, cafe, reply.select.action, values=["0", "9"])
    assert wrong.outcome == Outcome.REFUSED and "isn't part" in to_plain(wrong.text)
    done = await engine.act(ana, cafe, reply.select.action, values=["3", "2"])
    assert done.outcome == Outcome.DONE
    assert json.loads((await answers_of(engine, "extras"))[0]) == [2, 3]


async def test_yes_no_other_asks_for_words_after_other(engine: Engine, person, cafe) -> None:
    ana = person("Ana")
    reply = await open_task(engine, ana, cafe, "work from the café")
    asked = await engine.act(ana, cafe, button(reply, "Other"))
    assert asked.text_input is not None and "few words" in to_plain(asked.text)
    assert await answers_of(engine, "wifi") == []
    typed = await engine.text_message(ana, cafe, "Only on Fridays")
    assert typed is not None and typed.outcome == Outcome.DONE
    assert json.loads((await answers_of(engine, "wifi"))[0]) == {"other": "Only on Fridays"}


async def test_words_after_other_can_come_through_the_form_the_question_offers(engine: Engine, person, cafe) -> None:
    ana = person("Ana")
    reply = await open_task(engine, ana, cafe, "work from the café")
    asked = await engine.act(ana, cafe, button(reply, "Other"))
    assert asked.text_input is not None
    typed = await engine.act(ana, cafe, asked.text_input.action, text="Only on Fridays")  # a Discord form
    assert typed.outcome == Outcome.DONE
    assert json.loads((await answers_of(engine, "wifi"))[0]) == {"other": "Only on Fridays"}


async def test_a_text_form_is_rebuilt_from_its_token_alone_in_the_members_language(
    engine: Engine, person, cafe
) -> None:
    ana, ioana = person("Ana"), person("Ioana", language="ro")
    other = await engine.act(ana, cafe, button(await open_task(engine, ana, cafe, "work from the café"), "Other"))
    free_text = await open_task(engine, ana, cafe, "change one thing")
    for asked in (free_text.text_input, other.text_input):
        assert asked is not None
        assert await engine.text_input(ana, asked.action) == asked
    assert free_text.text_input is not None
    romanian = await engine.text_input(ioana, free_text.text_input.action)
    assert romanian is not None and romanian.placeholder == "Cel mult 280 de caractere"
    genuine = free_text.text_input.action
    forged = genuine[:-1] + ("B" if genuine.endswith("A") else "A")
    for not_text in (button(free_text, "⏭"), forged, ""):
        assert await engine.text_input(ana, not_text) is None  # a skip button, a forged token, nothing
    assert await answers_of(engine, "one-change") == []  # looking the form up records nothing


async def test_rating_and_nps_refuse_values_outside_their_scale(engine: Engine, person, cafe) -> None:
    ana = person("Ana")
    reply = await open_task(engine, ana, cafe, "rate the service")
    round_id, index = reply.buttons[0][0].action.split(".")[1:3]
    forged_scale = engine.services.codec.pack("a", round_id, index, 6)  # a signed token, but 6 is not a rating
    refused = await engine.act(ana, cafe, forged_scale)
    assert refused.outcome == Outcome.REFUSED and "from 1 to 5" in to_plain(refused.text)
    assert (await engine.act(ana, cafe, button(reply, "4★"))).outcome == Outcome.DONE
    nps = await open_task(engine, ana, cafe, "recommend")
    round_id, index = nps.buttons[0][0].action.split(".")[1:3]
    refused = await engine.act(ana, cafe, engine.services.codec.pack("a", round_id, index, 11))
    assert "from 0 to 10" in to_plain(refused.text)
    assert (await engine.act(ana, cafe, button(nps, "10"))).outcome == Outcome.DONE
    assert await answers_of(engine, "service") == ["4"] and await answers_of(engine, "recommend") == ["10"]


async def test_free_text_too_long_is_refused_and_can_be_sent_again(engine: Engine, person, cafe) -> None:
    ana = person("Ana")
    reply = await open_task(engine, ana, cafe, "change one thing")
    assert reply.text_input is not None and reply.text_input.max_length == 280
    too_long = await engine.text_message(ana, cafe, "x" * 281)
    assert too_long is not None and too_long.outcome == Outcome.REFUSED
    assert "281 characters; the limit is 280" in to_plain(too_long.text)
    empty = await engine.text_message(ana, cafe, " \u200b\x00 ")
    assert empty is not None and empty.outcome == Outcome.REFUSED and "empty" in to_plain(empty.text)
    hostile = "<b>bold</b> & <script>alert(1)</script>"
    ok = await engine.text_message(ana, cafe, hostile)
    assert ok is not None and ok.outcome == Outcome.DONE
    assert "&lt;script&gt;" in ok.text and "<script>" not in ok.text
    assert json.loads((await answers_of(engine, "one-change"))[0]) == hostile
    assert await engine.text_message(ana, cafe, "chatter after the answer") is None


async def test_image_label_shows_the_image_and_records_the_label(engine: Engine, person, cafe) -> None:
    ana = person("Ana")
    reply = await open_task(engine, ana, cafe, "pastry")
    assert reply.image is not None and reply.image.path.endswith("pastry.png")
    assert (await engine.act(ana, cafe, button(reply, "Croissant"))).outcome == Outcome.DONE
    assert await answers_of(engine, "pastry") == ["0"]


async def test_forged_and_malformed_tokens_are_refused_and_record_nothing(engine: Engine, person, cafe) -> None:
    ana = person("Ana")
    reply = await open_task(engine, ana, cafe, "What do you order")
    genuine = button(reply, "Latte")
    forged = genuine[:-8] + ("A" * 8 if not genuine.endswith("A" * 8) else "B" * 8)
    other_option = genuine.replace(".1.", ".3.", 1)
    non_ascii_signature = genuine.rpartition(".")[0] + ".\x80" + "A" * 7
    for token in (forged, other_option, non_ascii_signature, "", "a.1.0.0", "x" * 500, "a..", "🙂" * 20, "0.\x80"):
        refused = await engine.act(ana, cafe, token)
        assert refused.outcome == Outcome.STALE, token
        assert "expired" in to_plain(refused.text)
    assert await answers_of(engine, "drink") == []


async def test_a_genuine_token_taken_before_does_not_let_its_forged_twin_in(engine: Engine, person, cafe) -> None:
    ana, bea = person("Ana"), person("Bea")
    genuine = button(await open_task(engine, ana, cafe, "What do you order"), "Latte")
    assert (await engine.act(ana, cafe, genuine)).outcome == Outcome.DONE  # the engine has read this token now
    forged = genuine[:-1] + ("B" if genuine.endswith("A") else "A")
    await open_task(engine, bea, cafe, "What do you order")
    assert (await engine.act(bea, cafe, forged)).outcome == Outcome.STALE
    assert (await engine.act(bea, cafe, genuine)).outcome == Outcome.DONE
    assert await answers_of(engine, "drink") == ["1", "1"]


async def test_answering_a_task_of_a_closed_round_is_refused(engine: Engine, person, cafe) -> None:
    ana = person("Ana")
    reply = await open_task(engine, ana, cafe, "What do you order")
    mod = await engine.context(person("Mod"), cafe)
    (record,) = await engine.services.store.rounds.open_in(mod.space_id, "tasks")
    assert (await engine.rounds.close(mod, record.id)).outcome == Outcome.DONE
    late = await engine.act(ana, cafe, button(reply, "Latte"))
    assert late.outcome == Outcome.REFUSED and "round is closed" in to_plain(late.text)
    assert await answers_of(engine, "drink") == []


async def test_a_task_stops_being_served_when_its_quota_is_full(engine: Engine, person, cafe, settings) -> None:
    users = [person(f"Ro{i}", "ro") for i in range(2)]
    campaign = engine.services.catalog.campaign("coffee")
    assert campaign is not None
    hours = campaign.task("ro-hours")
    assert hours is not None
    object.__setattr__(hours, "quota", 1)
    first = await open_task(engine, users[0], cafe, "Ce program")
    assert (await engine.act(users[0], cafe, button(first, "7:00"))).outcome == Outcome.DONE
    with_quota_reached = await engine.tasks.next_task(await engine.context(users[1], cafe))
    for _ in range(12):
        assert "Ce program" not in to_plain(with_quota_reached.text)
        if not with_quota_reached.buttons:
            break
        with_quota_reached = last(await engine.act(users[1], cafe, button(with_quota_reached, "Sari")))
    late = await engine.act(users[1], cafe, button(first, "8:00"))
    assert late.outcome == Outcome.REFUSED


async def test_leaderboard_shows_the_top_and_the_callers_own_rank(engine: Engine, person, cafe) -> None:
    players = [person(f"P{i:02d}") for i in range(12)]
    for rank, player in enumerate(players):
        await answer_tasks(engine, player, cafe, max(1, 8 - rank))
    board = await engine.points.leaderboard(await engine.context(players[-1], cafe))
    text = to_plain(board.text)
    assert text.splitlines()[1].startswith("1. P00")
    assert "P11" not in text.splitlines()[-2]
    assert "you are #8" in text


async def test_welcome_bonus_is_given_once(engine: Engine, person: UserRef, cafe) -> None:
    ana = person("Ana")
    first = await engine.tasks.start(await engine.context(ana, cafe))
    again = await engine.tasks.start(await engine.context(ana, cafe))
    assert "Welcome bonus" in to_plain(first.text)
    assert "Welcome bonus" not in to_plain(again.text)
    assert await engine.points.balance(await engine.context(ana, cafe)) == 10


async def test_points_show_each_award_with_a_reason_the_member_can_read(engine: Engine, person, cafe) -> None:
    mihai = person("Mihai", "ro")
    reply = await open_task(engine, mihai, cafe, "Ce comanzi")
    await engine.act(mihai, cafe, button(reply, "Latte"))
    points = to_plain((await engine.points.points(await engine.context(mihai, cafe))).text)
    assert "+5 · ai răspuns la „Ce comanzi cel mai des?”" in points
