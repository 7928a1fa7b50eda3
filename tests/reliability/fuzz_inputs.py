"""What the engine fuzzer's people send, and who they are: the cast (members, a moderator, a banned
member, spaces whose names are markup), hostile texts, the commands members, moderators and attackers
type, and tokens a tampered client forges. Kept apart from :mod:`tests.reliability.fuzz_machine` so a new
nasty input is added here without reading the machine.
"""

from __future__ import annotations

from hypothesis import strategies as st

from bot.commands import COMMANDS
from bot.identity import SpaceRef, UserRef

MODERATOR = "mod"  # a console moderator by default (settings.console.moderators)
BANNED = "zed"  # banned in the café before anything else happens
PEOPLE = {
    "ana": UserRef("console", "ana", "Ana", "en"),
    "ioana": UserRef("console", "ioana", "Ioana", "ro-RO"),
    "bob": UserRef("console", "bob", "<b>Bob</b> & @everyone [x](http://evil) </code>", None),
    MODERATOR: UserRef("console", MODERATOR, "Mod", "en"),
    BANNED: UserRef("console", BANNED, "Zed", "en"),
}
CAFE = SpaceRef("console", "cafe", "Corner <i>Café</i> &amp; @here", False)
SPACES = (CAFE, SpaceRef("console", "bar", "[Bar](http://evil) `x`", False), SpaceRef("console", "ana", "", True))


class Big(str):
    """A huge text that prints short, so a failing example stays readable."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"Big({self[:6]!r} … {len(self)} characters)"


HOSTILE = (
    "",
    " ",
    Big("x" * 100_000),
    Big("🙂" * 30_000),
    Big("<b>" * 20_000),
    "\x00\x07\x1b[31mred\x1b[0m\x7f\x85",
    "\u202eevil\u202c \u2066isolate\u2069 \u200fRTL\u200e",
    "👩\u200d👩\u200d👧 family \u200d\u200b zero width",
    "<b>bold</b> <i>it",
    "</code></b></i>",
    "&amp; &lt; & &#0; &#x110000; &bogus;",
    "@everyone @here <@123> <#456> <@&789> <t:0:R> <:e:1>",
    "[x](http://evil) <http://evil> *bold* _it_ ~~s~~ ||spoiler|| `code` ```block``` > quote # head",
    "a\nb\n\n<i>\n</i>",
    "{name} {0} %s %(points)s {{",
    "\\ \\\\ \\*",
    "\r\n\t\v\f",
    Big("ﷺ" * 300),
)
IDEAS = (
    "Please bring back the pumpkin spice latte in October",
    "More power sockets along the window seats",
    "A quiet corner for people working on laptops",
    "Oat milk at no extra charge for every drink",
    "Loyalty stamps: every tenth coffee on the house",
    "Cinnamon rolls fresh from the oven on Sunday mornings",
)
NUMBERS = ("1", "2", "3", "#2", "0", "-1", "4", "２", "²", "9" * 19, "123456789012345678901234567890", Big("9" * 5000))
MEMBERS = st.sampled_from(sorted(PEOPLE))
PLACES = st.sampled_from([CAFE, CAFE, *SPACES[1:]])
STATUSES = ("new", "under_review", "under-review", "accepted", "launched", "declined", "merged", "pending", "x")


def hostile_text() -> st.SearchStrategy[str]:
    """Short random text, or one of the nasty fixed ones (large ones are fixed: generating is slow)."""
    return st.one_of(st.sampled_from(HOSTILE), st.text(max_size=40))


def idea_text() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(IDEAS),
        st.builds(lambda idea, tail: f"{idea} {tail}", st.sampled_from(IDEAS), hostile_text()),
        hostile_text(),
    )


def everyday_commands() -> st.SearchStrategy[str]:
    """What members send all day: questions, points, ideas, votes, rewards (the deep states' way in)."""
    return st.one_of(
        st.sampled_from(
            [
                "/start",
                "/task",
                "/task",
                "/task coffee",
                "/points",
                "/me",
                "/top",
                "/top week",
                "/rewards",
                "/redeem mug",
                "/redeem sticker",
                "/ideas",
                "/ideas top 2",
                "/ideas new",
                "/ideas trending",
                "/launched",
            ]
        ),
        st.builds("/idea {}".format, st.sampled_from(IDEAS)),
        st.builds("/idea {}".format, idea_text()),
        st.builds("/idea {}".format, st.sampled_from(NUMBERS[:5])),
        st.builds("/idea +{} {}".format, st.sampled_from(NUMBERS[:5]), st.sampled_from(IDEAS)),
    )


def moderation_commands() -> st.SearchStrategy[str]:
    """Rounds, statuses, bans, results: what moderators send (and members try)."""
    idea = st.sampled_from(NUMBERS[:7])
    return st.one_of(
        st.sampled_from(
            [
                "/round open coffee",
                "/round open winter-menu",
                "/round open coffee 1h",
                "/round open winter-menu 2d",
                "/round close",
                "/round close 1",
                "/round close 2",
                "/round close 3",
                "/round list",
                "/ban bob",
                "/ban zed",
                "/unban zed",
                "/unban bob",
                "/audit",
                "/results",
                "/export json",
                "/ideas pending",
            ]
        ),
        st.builds("/round close {}".format, idea),
        st.builds("/status {} {} {}".format, idea, st.sampled_from(STATUSES), st.sampled_from(["", "Soon!", "<b>"])),
        st.builds("/status {} merged {}".format, idea, idea),
        st.builds("/approve {}".format, idea),
        st.builds("/hide {}".format, idea),
        st.builds("/top round {}".format, idea),
    )


def hostile_commands() -> st.SearchStrategy[str]:
    """Every command, with the arguments an attacker would type."""
    number = st.sampled_from(NUMBERS)
    fixed = st.sampled_from(
        [
            "/start coffee",
            "/start nope",
            "/help",
            "/top all",
            "/top global",
            "/top nonsense",
            "/redeem gone",
            "/redeem x",
            "/redeem",
            "/ideas launched",
            "/ideas top 99",
            "/ideas bogus",
            "/idea",
            "/status",
            "/approve",
            "/hide",
            "/round open nope",
            "/round open coffee 0m",
            "/round open coffee 99999w",
            "/round",
            "/round bogus",
            "/ban nobody",
            "/ban mod",
            "/ban",
            "/nonsense",
            "/TASK",
            "/task@crowdpulse_bot",
            "/ideas@other_bot top",
            "/",
            "/ ",
            "/@crowdpulse_bot",
            "//task",
        ]
    )
    return st.one_of(
        fixed,
        st.builds("/idea +{} {}".format, number, idea_text()),
        st.builds("/idea #{} {}".format, st.sampled_from(["drinks", "FOOD", "nope", "12"]), idea_text()),
        st.builds("/idea {}".format, number),
        st.builds("/ideas {} {}".format, st.sampled_from(["top", "new", "trending"]), number),
        st.builds("/status {} {} {}".format, number, st.sampled_from(STATUSES), hostile_text()),
        st.builds("/status {} merged {}".format, number, number),
        st.builds("/{} {}".format, st.sampled_from(["approve", "hide", "results", "export", "round close"]), number),
        st.builds("/top round {}".format, number),
        st.builds("/redeem {}".format, hostile_text()),
        st.builds("/{} {}".format, st.sampled_from(sorted(COMMANDS)), hostile_text()),
    )


def forge(token: str, how: str) -> str:
    """A token a tampered client could send: the genuine one altered so its signature no longer fits."""
    payload, _, signature = token.rpartition(".")
    if how == "signature":
        flipped = "A" if signature[0] != "A" else "B"
        return f"{payload}.{flipped}{signature[1:]}"
    if how == "field":
        verb, *fields = payload.split(".")
        first = fields[0] if fields else ""
        changed = [f"{first}7" if first.isdigit() or not first else first[:-1], *fields[1:]]
        return ".".join([verb, *filter(None, changed), signature])
    if how == "verb":
        verb, _, rest = payload.partition(".")
        other = "q" if verb != "q" else "a"
        return f"{other}.{rest}.{signature}" if rest else f"{other}.{signature}"
    return f"{payload}.{signature[:-1]}"  # truncated
