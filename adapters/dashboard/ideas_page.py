"""The Ideas page: a community's ideas filtered by status, category, space, platform and date, sorted by
top, trending or new, and the team's actions on them: **Set status**, **Merge** (after a preview of the
votes kept), **Tag**, **Assign**, an internal **Note**, and a status for several ideas at once.

Every action runs an engine use case as the signed-in teammate (:mod:`bot.features.ideas`): the rules,
the audit row and the members' notifications are the chat's, in its transaction. This module reads the
form, refuses what HTTP should (a viewer: 403; an idea of another community named in the URL: 404; a
missing CSRF token: 403, in :func:`adapters.dashboard.auth.checked_form`) and shows the use case's answer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import date
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.datastructures import FormData, QueryParams
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from adapters.dashboard import auth
from adapters.dashboard.i18n import language_of
from adapters.dashboard.pages import Pages, space_of
from bot.context import Context
from bot.features.ideas import SETTABLE
from bot.identity import UserRef
from bot.replies import Outcome, Reply, to_plain
from bot.store.dashboard_sql import CommunityRow
from bot.store.records import BOARD_SORTS, BoardFilter, IdeaRecord, IdeaStatus

PAGE_SIZE = 50
STATUSES = tuple(status for status in SETTABLE if status is not IdeaStatus.MERGED)  # merging has its own form
SHOWN_STATUSES = tuple(IdeaStatus)  # what the filter offers: every status, pending, hidden and merged too
UseCase = Callable[[Context], Awaitable[Reply]]
_FILTERS = ("status", "category", "space", "platform", "since", "until", "sort")


class IdeasPage(Pages):
    """The Ideas page's handlers (the shared checks come from :class:`Pages`)."""

    async def ideas(self, request: Request) -> Response:
        _, community, _ = await self._community(request)
        query = request.query_params
        wanted, page = _board_filter(community.id, query)
        board = await self.store.idea_board.board(wanted, self.engine.services.clock())
        spaces = await self.store.idea_board.spaces(community.id)
        shown = {name: query.get(name, "") for name in _FILTERS}
        shown["sort"] = wanted.sort
        return await self._page(
            request,
            "ideas.html",
            rows=board.rows,
            total=board.total,
            first=wanted.offset + 1,
            last=wanted.offset + len(board.rows),
            previous=_page_link(query, page - 1) if page > 1 else None,
            next=_page_link(query, page + 1) if wanted.offset + len(board.rows) < board.total else None,
            filters=shown,
            here=urlencode([(k, v) for k, v in query.multi_items() if k in _FILTERS or k == "page"]),
            statuses=[s.value for s in STATUSES],
            shown_statuses=[s.value for s in SHOWN_STATUSES],
            sorts=BOARD_SORTS,
            categories=await self.store.idea_board.categories(community.id),
            spaces=spaces,
            platforms=sorted({space.platform for space in spaces}),
            teammates=await self._teammates(request),
            # Upvotes and the pairs' scores side by side: where the two signals disagree is worth a look.
            scores={scored.idea_id: scored for scored in await self.engine.ranking.scores(community.id)},
        )

    async def _teammates(self, request: Request) -> list[tuple[str, str]]:
        """Who an idea can be assigned to, as ``(form value, name)``: the dashboard's owners and moderators,
        and the signed-in teammate (a chat moderator has no dashboard account). The use case checks again."""
        principal = await self._principal(request)
        found = [(f"{auth.DASHBOARD_PLATFORM}:{name}", name) for name in await self.store.dashboard.acting_teammates()]
        own = (f"{principal.platform}:{principal.platform_user_id}", principal.display_name)
        return found if own in found or not principal.may_act else [own, *found]

    async def _idea(self, request: Request) -> tuple[CommunityRow, IdeaRecord]:
        """The idea named in the URL when it is this community's (else 404), for a teammate who may act."""
        principal, community, _ = await self._community(request)
        idea = await self.store.ideas.idea(request.path_params["idea"])
        if idea is None or idea.space_id != community.id:
            raise HTTPException(404, "error.no_idea")
        if not principal.may_act:
            raise HTTPException(403, "error.viewer")
        return community, idea

    async def _on_idea(self, request: Request, act: Callable[[FormData, IdeaRecord], UseCase]) -> Response:
        """Check the form and the idea, then run the use case ``act`` makes of them and go back."""
        form = await auth.checked_form(request)
        _, idea = await self._idea(request)
        return await self._act(request, _in_language(request, act(form, idea)), _back(form))

    async def set_status(self, request: Request) -> Response:
        def act(form: FormData, idea: IdeaRecord) -> UseCase:
            status = _status(form)
            return lambda ctx: self.engine.ideas.set_status(ctx, idea.id, status, str(form.get("note", "")))

        return await self._on_idea(request, act)

    async def tag(self, request: Request) -> Response:
        def act(form: FormData, idea: IdeaRecord) -> UseCase:
            remove = form.get("action") == "remove"
            return lambda ctx: self.engine.triage.tag(ctx, idea.id, str(form.get("tag", "")), remove=remove)

        return await self._on_idea(request, act)

    async def assign(self, request: Request) -> Response:
        names = dict(await self._teammates(request))  # the name the form showed, for the answer

        def act(form: FormData, idea: IdeaRecord) -> UseCase:
            value = str(form.get("teammate", ""))
            platform, _, member = value.partition(":")
            teammate = UserRef(platform, member, names.get(value, member)) if platform and member else None
            return lambda ctx: self.engine.triage.assign(ctx, idea.id, teammate)

        return await self._on_idea(request, act)

    async def note(self, request: Request) -> Response:
        def act(form: FormData, idea: IdeaRecord) -> UseCase:
            return lambda ctx: self.engine.triage.note(ctx, idea.id, str(form.get("note", "")))

        return await self._on_idea(request, act)

    async def merge_preview(self, request: Request) -> Response:
        """What the merge would keep, and a button to confirm it (nothing changes until then)."""
        community, idea = await self._idea(request)
        target_id = _number(request.query_params.get("into", ""))
        principal = await self._principal(request)
        preview = _in_language(request, lambda ctx: self.engine.triage.merge_preview(ctx, idea.id, target_id))
        reply = await self.engine.run(principal.user, space_of(community), preview)
        target = await self.store.ideas.idea(target_id) if reply.outcome is Outcome.INFO else None
        return await self._page(
            request,
            "idea_merge.html",
            status_code=200 if target is not None else 400,
            idea=idea,
            target=target,
            preview=to_plain(reply.text),
            back=request.query_params.get("back", ""),
        )

    async def merge(self, request: Request) -> Response:
        def act(form: FormData, idea: IdeaRecord) -> UseCase:
            target_id = _number(str(form.get("into", "")))
            return lambda ctx: self.engine.ideas.set_status(ctx, idea.id, IdeaStatus.MERGED, merged_into=target_id)

        return await self._on_idea(request, act)

    async def bulk(self, request: Request) -> Response:
        """One status and note for the ideas ticked in the table (another community's are refused by the
        use case, which only changes this community's)."""
        form = await auth.checked_form(request)
        status = _status(form)
        ids = [number for value in form.getlist("ids") if (number := _number(str(value))) > 0]
        note = str(form.get("note", ""))
        bulk = _in_language(request, lambda ctx: self.engine.triage.bulk_status(ctx, ids, status, note))
        return await self._act(request, bulk, _back(form))


def _in_language(request: Request, use_case: UseCase) -> UseCase:
    """``use_case`` answering in the browser's language (the page's), whatever the teammate's account says;
    members told of a change still read it in their own."""
    language = language_of(request)
    return lambda ctx: use_case(replace(ctx, language=language))


def _board_filter(community_id: int, query: QueryParams) -> tuple[BoardFilter, int]:
    """The listing the query string asks for; a value that means nothing is ignored, not an error."""
    status = query.get("status", "")
    sort = query.get("sort", "top")
    page = max(1, min(_number(query.get("page", "1")), 100_000))
    space = _number(query.get("space", ""))
    wanted = BoardFilter(
        community_id,
        sort=sort if sort in BOARD_SORTS else "top",
        status=IdeaStatus(status) if status in {s.value for s in IdeaStatus} else None,
        category=query.get("category") or None,
        space_id=space or None,
        platform=query.get("platform") or None,
        since=_day(query.get("since", "")),
        until=_day(query.get("until", "")),
        offset=(page - 1) * PAGE_SIZE,
        limit=PAGE_SIZE,
    )
    return wanted, page


def _page_link(query: QueryParams, page: int) -> str:
    kept: list[tuple[str, Any]] = [(k, v) for k, v in query.multi_items() if k in _FILTERS]
    return "?" + urlencode([*kept, ("page", page)])


def _back(form: FormData) -> str:
    """The ideas page with the filters the action was taken under: only the known ones, re-encoded, so a
    form cannot send the teammate anywhere else."""
    kept = [(k, v) for k, v in parse_qsl(str(form.get("back", ""))) if k in _FILTERS or k == "page"]
    return "ideas" + (f"?{urlencode(kept)}" if kept else "")


def _status(form: FormData) -> IdeaStatus:
    try:
        status = IdeaStatus(str(form.get("status", "")))
    except ValueError:
        raise HTTPException(400, "error.bad_status") from None
    if status not in STATUSES:
        raise HTTPException(400, "error.bad_status")
    return status


def _number(text: str) -> int:
    text = text.strip().lstrip("#")
    return int(text) if text.isdecimal() and len(text) < 12 else 0


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def idea_routes(pages: IdeasPage) -> list[Route]:
    c = "/c/{community:int}/ideas"
    return [
        Route(c, pages.ideas),
        Route(f"{c}/bulk", pages.bulk, methods=["POST"]),
        Route(c + "/{idea:int}/status", pages.set_status, methods=["POST"]),
        Route(c + "/{idea:int}/merge", pages.merge_preview, methods=["GET"]),
        Route(c + "/{idea:int}/merge", pages.merge, methods=["POST"]),
        Route(c + "/{idea:int}/tag", pages.tag, methods=["POST"]),
        Route(c + "/{idea:int}/assign", pages.assign, methods=["POST"]),
        Route(c + "/{idea:int}/note", pages.note, methods=["POST"]),
    ]
