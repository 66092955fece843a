"""The dashboard's pages for the support desk (tickets), conversations, agents and the
knowledge base. Like ``web.pages``: every read and write is an operation dispatched
through the gate as the member; a page only decides which buttons to show."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from core.gateway import Outcome
from web import auth
from web.pages import Pages, _message

TICKET_STATUSES = ("new", "open", "pending", "waiting_on_customer", "resolved", "closed")
PRIORITIES = ("low", "normal", "high", "urgent")
CONVERSATION_STATUSES = ("active", "escalated", "closed")
AGENT_STATUSES = ("active", "inactive")
TICKET_FILTERS = ("queue_id", "status", "priority", "assignee_id", "breached", "query", "cursor")
CONVERSATION_FILTERS = ("status", "agent_id", "cursor")
THREAD_MOST = 500


def _filters(request: Request, keys: tuple[str, ...]) -> dict[str, str]:
    return {k: v.strip() for k, v in request.query_params.items() if k in keys and v.strip()}


def _more(filters: dict[str, str], cursor: str | None) -> str | None:
    if not cursor:
        return None
    return urlencode({**{k: v for k, v in filters.items() if k != "cursor"}, "cursor": cursor})


def _present(form: dict[str, str], keys: tuple[str, ...]) -> dict[str, str]:
    return {k: form[k].strip() for k in keys if form.get(k, "").strip()}


class Desk:
    def __init__(self, pages: Pages) -> None:
        self.p = pages

    async def _list(
        self, request: Request, visitor: auth.Visitor, name: str, args: dict[str, Any]
    ) -> Outcome:
        return await self.p.call(request, visitor, name, {**args, "limit": "50"}, strings=True)

    async def _optional(
        self, request: Request, visitor: auth.Visitor, name: str, scope: str, most: int = 200
    ) -> list[dict[str, Any]]:
        """Every item of a helper list (queues, agents, collections) the member may read."""
        if not visitor.can(scope):
            return []
        try:
            return await self.p.all_items(request, visitor, name, {}, most=most)
        except Exception:
            return []

    def _failed(self, request: Request, visitor: auth.Visitor, outcome: Outcome) -> Response | None:
        """A refusal by the gate (scope, module, plan) as its own page; None for a form error."""
        if outcome.error is not None and outcome.status in (401, 402, 403, 404):
            return self.p.refused(request, outcome.error, visitor)
        return None

    # tickets ----------------------------------------------------------

    async def tickets(self, request: Request) -> Response:
        visitor = await self.p.signed_in(request)
        if isinstance(visitor, Response):
            return visitor
        filters = _filters(request, TICKET_FILTERS)
        outcome = await self._list(request, visitor, "search_support_tickets", filters)
        if outcome.error is not None and outcome.status != 400:
            return self.p.refused(request, outcome.error, visitor)
        queues = await self._optional(request, visitor, "list_support_queues", "support:read")
        return self.p.page(
            request,
            "tickets.html",
            status=200 if outcome.ok else 400,
            visitor=visitor,
            filters=filters,
            tickets=outcome.body.get("data", []) if outcome.ok else [],
            error=_message(outcome) if not outcome.ok else None,
            more=_more(filters, outcome.body.get("next_cursor") if outcome.ok else None),
            queues=queues,
            queue_names={q["id"]: q["name"] for q in queues},
            statuses=TICKET_STATUSES,
            priorities=PRIORITIES,
        )

    async def ticket(
        self,
        request: Request,
        *,
        error: str | None = None,
        status: int = 200,
        draft: dict[str, str] | None = None,
    ) -> Response:
        visitor = await self.p.signed_in(request)
        if isinstance(visitor, Response):
            return visitor
        ticket_id = request.path_params["ticket_id"]
        ticket = await self.p.data(request, visitor, "get_support_ticket", {"ticket_id": ticket_id})
        messages = await self.p.all_items(
            request,
            visitor,
            "list_support_ticket_messages",
            {"ticket_id": ticket_id},
            most=THREAD_MOST,
        )
        messages.sort(key=lambda m: (str(m["created_at"]), m["id"]))  # oldest first
        comments = await self.p.all_items(
            request,
            visitor,
            "list_support_ticket_comments",
            {"ticket_id": ticket_id},
            most=THREAD_MOST,
        )
        pinned = [c for c in comments if c["pinned"]]
        rest = sorted((c for c in comments if not c["pinned"]), key=lambda c: str(c["created_at"]))
        queues = await self._optional(request, visitor, "list_support_queues", "support:read")
        return self.p.page(
            request,
            "ticket.html",
            status=status,
            visitor=visitor,
            ticket=ticket,
            messages=messages,
            comments=pinned + rest,
            queue_names={q["id"]: q["name"] for q in queues},
            statuses=TICKET_STATUSES,
            priorities=PRIORITIES,
            error=error,
            draft=draft or {},
            saved=request.query_params.get("saved"),
        )

    async def _ticket_write(
        self, request: Request, name: str, args: dict[str, Any], anchor: str
    ) -> Response:
        visitor = await self.p.posted(request)
        if isinstance(visitor, Response):
            return visitor
        ticket_id = request.path_params["ticket_id"]
        if name == "add_support_ticket_comment" or args.get("direction") == "outbound":
            args = {**args, "author_id": visitor.member_id}  # the member who wrote it
        outcome = await self.p.call(request, visitor, name, {"ticket_id": ticket_id, **args})
        if outcome.error is not None:
            refused = self._failed(request, visitor, outcome)
            if refused is not None:
                return refused
            draft = await self.p.form(request)
            return await self.ticket(
                request, error=_message(outcome), status=outcome.status, draft=draft
            )
        return RedirectResponse(f"/tickets/{ticket_id}?saved=1#{anchor}", status_code=303)

    async def reply(self, request: Request) -> Response:
        form = await self.p.form(request)
        direction = form.get("direction") if form.get("direction") == "inbound" else "outbound"
        args: dict[str, Any] = {"body": form.get("body", ""), "direction": direction}
        return await self._ticket_write(request, "add_support_ticket_message", args, "thread")

    async def comment(self, request: Request) -> Response:
        form = await self.p.form(request)
        args = {"body": form.get("body", ""), "pinned": form.get("pinned") == "true"}
        return await self._ticket_write(request, "add_support_ticket_comment", args, "comments")

    async def update_ticket(self, request: Request) -> Response:
        form = await self.p.form(request)
        args = _present(form, ("status", "priority"))
        return await self._ticket_write(request, "update_support_ticket", args, "main")

    # conversations ----------------------------------------------------

    async def conversations(self, request: Request) -> Response:
        visitor = await self.p.signed_in(request)
        if isinstance(visitor, Response):
            return visitor
        filters = _filters(request, CONVERSATION_FILTERS)
        outcome = await self._list(request, visitor, "list_conversations", filters)
        if outcome.error is not None and outcome.status not in (400, 422):
            return self.p.refused(request, outcome.error, visitor)
        agents = await self._optional(request, visitor, "list_agents", "conversations:read")
        return self.p.page(
            request,
            "conversations.html",
            status=200 if outcome.ok else outcome.status,
            visitor=visitor,
            filters=filters,
            conversations=outcome.body.get("data", []) if outcome.ok else [],
            error=_message(outcome) if not outcome.ok else None,
            more=_more(filters, outcome.body.get("next_cursor") if outcome.ok else None),
            agents=agents,
            agent_names={a["id"]: a["name"] for a in agents},
            statuses=CONVERSATION_STATUSES,
        )

    async def conversation(
        self,
        request: Request,
        *,
        error: str | None = None,
        status: int = 200,
        draft: dict[str, str] | None = None,
    ) -> Response:
        visitor = await self.p.signed_in(request)
        if isinstance(visitor, Response):
            return visitor
        conversation_id = request.path_params["conversation_id"]
        args = {"conversation_id": conversation_id}
        conversation = await self.p.data(request, visitor, "get_conversation", args)
        messages = await self.p.all_items(request, visitor, "list_messages", args, most=THREAD_MOST)
        notes = await self.p.all_items(request, visitor, "list_notes", args, most=THREAD_MOST)
        agents = await self._optional(request, visitor, "list_agents", "conversations:read")
        return self.p.page(
            request,
            "conversation.html",
            status=status,
            visitor=visitor,
            conversation=conversation,
            messages=messages,
            notes=notes,
            agent_names={a["id"]: a["name"] for a in agents},
            statuses=CONVERSATION_STATUSES,
            error=error,
            draft=draft or {},
            saved=request.query_params.get("saved"),
        )

    async def _conversation_write(
        self, request: Request, name: str, args: dict[str, Any], anchor: str
    ) -> Response:
        visitor = await self.p.posted(request)
        if isinstance(visitor, Response):
            return visitor
        conversation_id = request.path_params["conversation_id"]
        outcome = await self.p.call(
            request, visitor, name, {"conversation_id": conversation_id, **args}
        )
        if outcome.error is not None:
            refused = self._failed(request, visitor, outcome)
            if refused is not None:
                return refused
            draft = await self.p.form(request)
            return await self.conversation(
                request, error=_message(outcome), status=outcome.status, draft=draft
            )
        where = f"/conversations/{conversation_id}?saved=1#{anchor}"
        return RedirectResponse(where, status_code=303)

    async def post_message(self, request: Request) -> Response:
        visitor = await self.p.signed_in(request)
        form = await self.p.form(request)
        args = {"author_type": "member", "body": form.get("body", "")}
        if isinstance(visitor, auth.Visitor):
            args["author_id"] = visitor.member_id  # the member posting it
        return await self._conversation_write(request, "create_message", args, "transcript")

    async def add_note(self, request: Request) -> Response:
        visitor = await self.p.signed_in(request)
        form = await self.p.form(request)
        args = {"body": form.get("body", "")}
        if isinstance(visitor, auth.Visitor):
            args["author"] = visitor.email[:200]
        return await self._conversation_write(request, "create_note", args, "notes")

    async def conversation_status(self, request: Request) -> Response:
        form = await self.p.form(request)
        args = {"status": form.get("status", "")}
        return await self._conversation_write(request, "update_conversation", args, "main")

    # agents -----------------------------------------------------------

    async def agents(
        self,
        request: Request,
        *,
        error: str | None = None,
        status: int = 200,
        draft: dict[str, str] | None = None,
    ) -> Response:
        visitor = await self.p.signed_in(request)
        if isinstance(visitor, Response):
            return visitor
        items = await self.p.all_items(request, visitor, "list_agents", {}, most=500)
        collections = await self._optional(
            request, visitor, "list_knowledge_collections", "knowledge:read"
        )
        return self.p.page(
            request,
            "agents.html",
            status=status,
            visitor=visitor,
            agents=items,
            collections=collections,
            collection_names={c["id"]: c["name"] for c in collections},
            statuses=AGENT_STATUSES,
            error=error,
            draft=draft or {},
            saved=request.query_params.get("saved"),
        )

    async def agent(
        self,
        request: Request,
        *,
        error: str | None = None,
        status: int = 200,
        draft: dict[str, str] | None = None,
    ) -> Response:
        visitor = await self.p.signed_in(request)
        if isinstance(visitor, Response):
            return visitor
        agent = await self.p.data(
            request, visitor, "get_agent", {"agent_id": request.path_params["agent_id"]}
        )
        collections = await self._optional(
            request, visitor, "list_knowledge_collections", "knowledge:read"
        )
        return self.p.page(
            request,
            "agent.html",
            status=status,
            visitor=visitor,
            agent=agent,
            collections=collections,
            collection_names={c["id"]: c["name"] for c in collections},
            statuses=AGENT_STATUSES,
            error=error,
            draft=draft or {},
            saved=request.query_params.get("saved"),
        )

    async def save_agent(self, request: Request) -> Response:
        visitor = await self.p.posted(request)
        if isinstance(visitor, Response):
            return visitor
        form = await self.p.form(request)
        agent_id = request.path_params.get("agent_id")
        args: dict[str, Any] = _present(
            form, ("name", "status", "site_url", "collection_id", "description")
        )
        if agent_id:
            args["agent_id"] = agent_id
        outcome = await self.p.call(
            request, visitor, "update_agent" if agent_id else "create_agent", args
        )
        if outcome.error is not None:
            refused = self._failed(request, visitor, outcome)
            if refused is not None:
                return refused
            again = self.agent if agent_id else self.agents
            return await again(request, error=_message(outcome), status=outcome.status, draft=form)
        if agent_id:
            return RedirectResponse(f"/agents/{agent_id}?saved=1", status_code=303)
        return RedirectResponse(f"/agents/{outcome.body['data']['id']}?saved=1", status_code=303)

    # knowledge --------------------------------------------------------

    async def knowledge(self, request: Request) -> Response:
        visitor = await self.p.signed_in(request)
        if isinstance(visitor, Response):
            return visitor
        collections = await self.p.all_items(
            request, visitor, "list_knowledge_collections", {}, most=500
        )
        chosen = request.query_params.get("collection_id") or (
            collections[0]["id"] if collections else ""
        )
        filters = {"collection_id": chosen} if chosen else {}
        if request.query_params.get("cursor"):
            filters["cursor"] = request.query_params["cursor"]
        articles: list[dict[str, Any]] = []
        more = None
        error = None
        if chosen:
            outcome = await self._list(request, visitor, "list_knowledge_articles", filters)
            if outcome.error is not None and outcome.status not in (400, 422):
                return self.p.refused(request, outcome.error, visitor)
            if outcome.ok:
                articles = outcome.body["data"]
                more = _more(filters, outcome.body.get("next_cursor"))
            else:
                error = _message(outcome)
        return self.p.page(
            request,
            "knowledge.html",
            visitor=visitor,
            collections=collections,
            chosen=next((c for c in collections if c["id"] == chosen), None),
            articles=articles,
            more=more,
            error=error,
        )

    async def article(
        self,
        request: Request,
        *,
        error: str | None = None,
        status: int = 200,
        draft: dict[str, str] | None = None,
    ) -> Response:
        visitor = await self.p.signed_in(request)
        if isinstance(visitor, Response):
            return visitor
        article_id = request.path_params.get("article_id")
        article = None
        if article_id:
            article = await self.p.data(
                request, visitor, "get_knowledge_article", {"article_id": article_id}
            )
        collections = await self.p.all_items(
            request, visitor, "list_knowledge_collections", {}, most=500
        )
        editing = article is None or request.query_params.get("edit") or error
        return self.p.page(
            request,
            "article.html",
            status=status,
            visitor=visitor,
            article=article,
            collections=collections,
            collection_names={c["id"]: c["name"] for c in collections},
            editing=bool(editing) and visitor.can("knowledge:write"),
            chosen=request.query_params.get("collection_id")
            or (article["collection_id"] if article else ""),
            error=error,
            draft=draft or {},
            saved=request.query_params.get("saved"),
        )

    async def save_article(self, request: Request) -> Response:
        visitor = await self.p.posted(request)
        if isinstance(visitor, Response):
            return visitor
        form = await self.p.form(request)
        article_id = request.path_params.get("article_id")
        args: dict[str, Any] = {
            "title": form.get("title", ""),
            "body": form.get("body", ""),
            **_present(form, ("source_url",)),
        }
        if article_id:
            args["article_id"] = article_id
        else:
            args["collection_id"] = form.get("collection_id", "")
        name = "update_knowledge_article" if article_id else "create_knowledge_article"
        outcome = await self.p.call(request, visitor, name, args)
        if outcome.error is not None:
            refused = self._failed(request, visitor, outcome)
            if refused is not None and not (outcome.status == 404 and not article_id):
                return refused
            return await self.article(
                request, error=_message(outcome), status=outcome.status, draft=form
            )
        saved_id = article_id or outcome.body["data"]["id"]
        return RedirectResponse(f"/knowledge/articles/{saved_id}?saved=1", status_code=303)


def routes(pages: Pages) -> list[tuple[str, Any, list[str]]]:
    d = Desk(pages)
    get, post = ["GET"], ["POST"]
    return [
        ("/tickets", d.tickets, get),
        ("/tickets/{ticket_id}", d.ticket, get),
        ("/tickets/{ticket_id}", d.update_ticket, post),
        ("/tickets/{ticket_id}/messages", d.reply, post),
        ("/tickets/{ticket_id}/comments", d.comment, post),
        ("/conversations", d.conversations, get),
        ("/conversations/{conversation_id}", d.conversation, get),
        ("/conversations/{conversation_id}", d.conversation_status, post),
        ("/conversations/{conversation_id}/messages", d.post_message, post),
        ("/conversations/{conversation_id}/notes", d.add_note, post),
        ("/agents", d.agents, get),
        ("/agents", d.save_agent, post),
        ("/agents/{agent_id}", d.agent, get),
        ("/agents/{agent_id}", d.save_agent, post),
        ("/knowledge", d.knowledge, get),
        ("/knowledge/articles/new", d.article, get),
        ("/knowledge/articles", d.save_article, post),
        ("/knowledge/articles/{article_id}", d.article, get),
        ("/knowledge/articles/{article_id}", d.save_article, post),
    ]
