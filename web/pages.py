"""The dashboard's pages: sign-in, invitations, password resets and the workspace pages.

Every domain action is an operation dispatched through ``core.gateway.dispatch`` on the
``dashboard`` channel with the member's principal (``web.auth``): the same checks, the
same audit rows as REST and MCP. A page only decides what to show (a viewer sees no
write buttons); the gate decides what is allowed (a forged POST is refused there).
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

import core.members.service as members
from core.db import utcnow
from core.errors import DomainError, NotFound, PayloadTooLarge, Unauthenticated, ValidationFailed
from core.gateway import Call, Outcome, check_operation, dispatch
from core.operations import Channel
from core.runtime import Runtime
from core.scopes import ALL_SCOPES
from web import auth, charts, mail

log = logging.getLogger("patchbay.web")

HERE = Path(__file__).parent
STATIC = HERE / "static"
_MEDIA = {".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml"}
MAX_FORM_BYTES = 256 * 1024
DEFAULT_BASE_URL = "http://127.0.0.1:8000"
DOCS = "/docs"

NAV = [
    ("/", "Overview", None),
    ("/tokens", "API tokens", "workspace:admin"),
    ("/workflows", "Workflows", "workflows:read"),
    ("/runs", "Runs", "workflows:read"),
    ("/webhooks", "Webhooks", "integrations:read"),
    ("/tickets", "Tickets", "search_support_tickets"),
    ("/conversations", "Conversations", "list_conversations"),
    ("/agents", "Agents", "list_agents"),
    ("/knowledge", "Knowledge", "list_knowledge_collections"),
    ("/members", "Members", "workspace:admin"),
    ("/audit", "Audit log", "workspace:admin"),
    ("/usage", "Usage", None),
]
"""(href, label, what it needs): a scope, or the operation the page reads (its scope,
module, plan feature and the workspace's status: the gate's own check), or nothing."""

METER_LABELS = {
    "workflow_runs": "Workflow runs",
    "active_tokens": "Active tokens",
    "crawl_pages": "Crawled pages",
    "stored_bytes": "Stored bytes",
    "deliveries": "Webhook deliveries",
    "ai_tokens": "AI tokens",
}


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = _when
    env.filters["amount"] = _amount
    env.globals["METER_LABELS"] = METER_LABELS
    env.globals["PERIOD_LABELS"] = {"day": "today", "cycle": "this cycle", "current": "now"}
    env.filters["pretty"] = lambda value: json.dumps(value, indent=2, ensure_ascii=False)
    return env


def _amount(value: int, meter: str = "") -> str:
    """A meter's count with thousands separators; bytes in KB/MB/GB (binary)."""
    if meter.endswith("_bytes") and value >= 1024:
        size, units = float(value) / 1024, ["KB", "MB", "GB", "TB"]
        while size >= 1024 and len(units) > 1:
            size, units = size / 1024, units[1:]
        return f"{size:,.1f} {units[0]}".replace(".0 ", " ")
    return f"{value:,}"


def _when(value: Any) -> str:
    if not value:
        return "—"
    text = str(value)
    return text.replace("T", " ")[:19] + " UTC"


class Pages:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.env = _environment()

    # ------------------------------------------------------------ plumbing

    def base_url(self, request: Request) -> str:
        configured = self.runtime.settings.public_base_url
        return (configured or str(request.base_url) or DEFAULT_BASE_URL).rstrip("/")

    def page(
        self,
        request: Request,
        template: str,
        *,
        status: int = 200,
        visitor: auth.Visitor | None = None,
        **context: Any,
    ) -> HTMLResponse:
        """Render ``template``; a signed-out page gets (and sets) a double-submit token."""
        new_cookie = None
        if visitor is None:
            csrf, fresh = auth.anonymous_csrf(request)
            new_cookie = csrf if fresh else None
        else:
            csrf = visitor.csrf
        html = self.env.get_template(template).render(
            request=request,
            visitor=visitor,
            csrf=csrf,
            csrf_field=auth.CSRF_FIELD,
            nav=self.nav(visitor),
            path=request.url.path,
            docs_url=DOCS,
            **context,
        )
        response = HTMLResponse(html, status_code=status, headers=_NO_STORE)
        if new_cookie:
            auth.set_cookie(response, request, self.runtime, auth.ANON_CSRF_COOKIE, new_cookie)
        return response

    def nav(self, visitor: auth.Visitor | None) -> list[tuple[str, str]]:
        if visitor is None or visitor.principal is None:
            return []
        return [
            (href, label) for href, label, need in NAV if need is None or self.allows(visitor, need)
        ]

    def allows(self, visitor: auth.Visitor, need: str) -> bool:
        """Whether the member may open a page needing ``need`` (a scope or an operation)."""
        if ":" in need:
            return visitor.can(need)
        op = self.runtime.registry.get(need)
        if op is None or visitor.principal is None:
            return False
        try:
            check_operation(visitor.principal, op)
        except DomainError:
            return False
        return True

    def refused(
        self, request: Request, error: DomainError, visitor: auth.Visitor | None = None
    ) -> HTMLResponse:
        return self.page(
            request,
            "error.html",
            status=error.status,
            visitor=visitor,
            code=error.code,
            message=error.message,
        )

    async def form(self, request: Request) -> dict[str, str]:
        """An ``application/x-www-form-urlencoded`` body (repeated fields: last wins,
        except the ``scopes``/``abilities``/``event_types`` lists, see ``form_lists``)."""
        pairs = await self.form_pairs(request)
        return dict(pairs)

    async def form_pairs(self, request: Request) -> list[tuple[str, str]]:
        cached = request.scope.get("patchbay.form")
        if cached is not None:
            return cached
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > MAX_FORM_BYTES:
            raise PayloadTooLarge(f"The form exceeds {MAX_FORM_BYTES} bytes.")
        raw = b""
        async for chunk in request.stream():
            raw += chunk
            if len(raw) > MAX_FORM_BYTES:
                raise PayloadTooLarge(f"The form exceeds {MAX_FORM_BYTES} bytes.")
        try:
            pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, errors="strict")
        except UnicodeDecodeError:
            raise ValidationFailed("The form is not valid UTF-8.") from None
        request.scope["patchbay.form"] = pairs
        return pairs

    async def signed_in(self, request: Request) -> auth.Visitor | Response:
        """The visitor, or a redirect to the sign-in page."""
        visitor = await auth.visitor(request, self.runtime)
        if visitor is None:
            target = "/signin" + (
                "?" + urlencode({"next": request.url.path}) if request.url.path != "/" else ""
            )
            return RedirectResponse(target, status_code=303)
        return visitor

    async def posted(self, request: Request) -> auth.Visitor | Response:
        """A signed-in visitor's form, CSRF-checked (a forged form is refused, 403)."""
        visitor = await self.signed_in(request)
        if isinstance(visitor, Response):
            return visitor
        form = await self.form(request)
        try:
            auth.check_csrf(visitor.csrf, form.get(auth.CSRF_FIELD))
        except DomainError as error:
            return self.refused(request, error, visitor)
        return visitor

    async def anonymous_posted(self, request: Request) -> dict[str, str] | Response:
        form = await self.form(request)
        try:
            auth.check_csrf(request.cookies.get(auth.ANON_CSRF_COOKIE), form.get(auth.CSRF_FIELD))
        except DomainError as error:
            return self.refused(request, error)
        return form

    async def call(
        self,
        request: Request,
        visitor: auth.Visitor,
        name: str,
        args: dict[str, Any],
        *,
        strings: bool = False,
    ) -> Outcome:
        """Dispatch operation ``name`` through the gate as the member."""
        op = self.runtime.registry.get(name)
        assert op is not None, name
        if visitor.principal is None:
            raise auth.NoWorkspace()

        async def load() -> dict[str, Any]:
            return dict(args)

        return await dispatch(
            self.runtime,
            Call(
                op,
                None,
                Channel.dashboard,
                load,
                strings=strings,
                path=request.url.path,
                authenticated=visitor.principal,
            ),
        )

    async def data(
        self, request: Request, visitor: auth.Visitor, name: str, args: dict[str, Any] | None = None
    ) -> Any:
        """The ``data`` of a read, or raise its error."""
        outcome = await self.call(request, visitor, name, args or {}, strings=True)
        if outcome.error is not None:
            raise outcome.error
        return outcome.body["data"]

    async def all_items(
        self,
        request: Request,
        visitor: auth.Visitor,
        name: str,
        args: dict[str, Any],
        *,
        most: int = 1000,
        newer_than: str | None = None,
    ) -> list[dict[str, Any]]:
        """Every item of a list operation, page after page, up to ``most``; with
        ``newer_than``, a newest-first list stops at the first older item."""
        items: list[dict[str, Any]] = []
        cursor = None
        while len(items) < most:
            page = {**args, "limit": "100", **({"cursor": cursor} if cursor else {})}
            outcome = await self.call(request, visitor, name, page, strings=True)
            if outcome.error is not None:
                raise outcome.error
            batch = outcome.body["data"]
            if newer_than is not None:
                recent = [i for i in batch if str(i.get("created_at", "")) >= newer_than]
                items += recent
                if len(recent) < len(batch):
                    break
            else:
                items += batch
            cursor = outcome.body.get("next_cursor")
            if not cursor:
                break
        return items[:most]

    # ------------------------------------------------------------ signed out

    async def signin_form(self, request: Request) -> Response:
        if await auth.visitor(request, self.runtime) is not None:
            return RedirectResponse("/", status_code=303)
        return self.page(request, "signin.html", next=_safe_next(request.query_params.get("next")))

    async def signin(self, request: Request) -> Response:
        form = await self.anonymous_posted(request)
        if isinstance(form, Response):
            return form
        email, password = form.get("email", ""), form.get("password", "")
        target = _safe_next(form.get("next"))
        try:
            async with self.runtime.db.session() as session:
                person = await members.sign_in(
                    session, self.runtime.limiter, email, password, ip=auth.client_ip(request)
                )
                issued = await members.create_session(session, person.id)
        except DomainError as error:
            return self.page(
                request,
                "signin.html",
                status=error.status,
                error=error.message,
                email=email,
                next=target,
            )
        response = RedirectResponse(target, status_code=303)
        auth.set_cookie(
            response,
            request,
            self.runtime,
            auth.SESSION_COOKIE,
            issued.token,
            max_age=int(members.SESSION_ABSOLUTE.total_seconds()),
        )
        return response

    async def signout(self, request: Request) -> Response:
        visitor = await self.posted(request)
        if isinstance(visitor, Response):
            return visitor
        async with self.runtime.db.session() as session:
            await members.revoke_session(session, visitor.session_token)
        response = RedirectResponse("/signin?signed_out=1", status_code=303)
        response.delete_cookie(auth.SESSION_COOKIE, path="/")
        return response

    async def invitation_form(self, request: Request) -> Response:
        return self.page(request, "invitation.html", token=request.path_params["token"])

    async def invitation(self, request: Request) -> Response:
        form = await self.anonymous_posted(request)
        if isinstance(form, Response):
            return form
        token = request.path_params["token"]
        ws = members.invitation_workspace(token)
        try:
            if ws is None:
                raise Unauthenticated(
                    "The invitation link is invalid, used, revoked or expired.",
                    code="invitation_invalid",
                )
            async with self.runtime.db.session(ws) as session:
                joined = await members.accept_invitation(
                    session,
                    token,
                    password=form.get("password", ""),
                    limiter=self.runtime.limiter,
                    ip=auth.client_ip(request),
                    name=form.get("name") or None,
                )
            async with self.runtime.db.session() as session:
                issued = await members.create_session(session, joined.member.id)
        except DomainError as error:
            return self.page(
                request, "invitation.html", status=error.status, token=token, error=error.message
            )
        response = RedirectResponse("/", status_code=303)
        auth.set_cookie(
            response,
            request,
            self.runtime,
            auth.SESSION_COOKIE,
            issued.token,
            max_age=int(members.SESSION_ABSOLUTE.total_seconds()),
        )
        auth.set_cookie(response, request, self.runtime, auth.WORKSPACE_COOKIE, ws or "")
        return response

    async def reset_request_form(self, request: Request) -> Response:
        return self.page(request, "reset_request.html")

    async def reset_request(self, request: Request) -> Response:
        form = await self.anonymous_posted(request)
        if isinstance(form, Response):
            return form
        email = form.get("email", "").strip()
        if not email or "@" not in email or len(email) > 320:
            return self.page(
                request,
                "reset_request.html",
                status=400,
                email=email,
                error="Enter the email address of your account.",
            )
        settings = self.runtime.settings
        async with self.runtime.db.session() as session:
            link = await members.request_password_reset(
                session, email, base_url=self.base_url(request)
            )
        if link is not None and mail.smtp_configured(settings):
            message = mail.reset_message(
                settings,
                members.normalise_email(email),
                link.url,
                _when(link.expires_at.isoformat()),
            )
            try:
                await mail.send(settings, message)
            except Exception:
                log.exception("could not send the reset link mail")
        return self.page(
            request,
            "reset_request.html",
            sent=True,
            smtp=mail.smtp_configured(settings),
            email=email,
        )

    async def reset_form(self, request: Request) -> Response:
        return self.page(request, "reset.html", token=request.path_params["token"])

    async def reset(self, request: Request) -> Response:
        form = await self.anonymous_posted(request)
        if isinstance(form, Response):
            return form
        token = request.path_params["token"]
        password = form.get("password", "")
        if password != form.get("password_again", password):
            return self.page(
                request, "reset.html", status=400, token=token, error="The two passwords differ."
            )
        try:
            async with self.runtime.db.session() as session:
                await members.reset_password(session, token, password)
        except DomainError as error:
            return self.page(
                request, "reset.html", status=error.status, token=token, error=error.message
            )
        return RedirectResponse("/signin?reset=1", status_code=303)

    # ------------------------------------------------------------ signed in

    async def switch(self, request: Request) -> Response:
        visitor = await self.posted(request)
        if isinstance(visitor, Response):
            return visitor
        wanted = (await self.form(request)).get("workspace_id", "")
        if not any(w.workspace_id == wanted for w in visitor.workspaces):
            return self.refused(request, NotFound("workspace", wanted), visitor)
        response = RedirectResponse("/", status_code=303)
        auth.set_cookie(response, request, self.runtime, auth.WORKSPACE_COOKIE, wanted)
        return response

    async def overview(self, request: Request) -> Response:
        visitor = await self.signed_in(request)
        if isinstance(visitor, Response):
            return visitor
        if visitor.principal is None:
            return self.page(request, "no_workspace.html", visitor=visitor)
        return self.page(
            request,
            "overview.html",
            visitor=visitor,
            plan=visitor.principal.plan,
            base_url=self.base_url(request),
        )

    # tokens ------------------------------------------------------------

    async def tokens(
        self, request: Request, *, created: Any = None, error: str | None = None, status: int = 200
    ) -> Response:
        visitor = await self.signed_in(request)
        if isinstance(visitor, Response):
            return visitor
        items = await self.all_items(request, visitor, "list_tokens", {})
        plan = visitor.principal.plan if visitor.principal else None
        return self.page(
            request,
            "tokens.html",
            status=status,
            visitor=visitor,
            tokens=items,
            plan=plan,
            active=len([t for t in items if not t.get("revoked_at")]),
            created=created,
            error=error,
            scopes=sorted(s for s in ALL_SCOPES if visitor.can(s)),
            api_base=self.base_url(request) + "/api/v1",
        )

    async def create_token(self, request: Request) -> Response:
        visitor = await self.posted(request)
        if isinstance(visitor, Response):
            return visitor
        pairs = await self.form_pairs(request)
        form = dict(pairs)
        args: dict[str, Any] = {
            "name": form.get("name", ""),
            "scopes": [v for k, v in pairs if k == "scopes"],
        }
        abilities = [v for k, v in pairs if k == "abilities"]
        if abilities:
            args["abilities"] = abilities
        if form.get("expires_in_days"):
            args["expires_in_days"] = _int(form["expires_in_days"], "expires_in_days")
        outcome = await self.call(request, visitor, "create_token", args)
        if outcome.error is not None:
            return await self.tokens(request, error=_message(outcome), status=outcome.status)
        return await self.tokens(request, created=outcome.body["data"], status=201)

    async def token_action(self, request: Request) -> Response:
        visitor = await self.posted(request)
        if isinstance(visitor, Response):
            return visitor
        action = request.path_params["action"]
        name = {"revoke": "revoke_token", "rotate": "rotate_token"}.get(action)
        if name is None:
            raise HTTPException(404)
        outcome = await self.call(
            request, visitor, name, {"token_id": request.path_params["token_id"]}
        )
        if outcome.error is not None:
            return await self.tokens(request, error=_message(outcome), status=outcome.status)
        if action == "rotate":
            return await self.tokens(request, created=outcome.body["data"])
        return RedirectResponse("/tokens?revoked=1", status_code=303)

    # workflows ---------------------------------------------------------

    async def workflows(self, request: Request) -> Response:
        visitor = await self.signed_in(request)
        if isinstance(visitor, Response):
            return visitor
        items = await self.all_items(request, visitor, "list_workflows", {})
        return self.page(
            request,
            "workflows.html",
            visitor=visitor,
            workflows=items,
            queued=request.query_params.get("queued"),
        )

    async def workflow(
        self, request: Request, *, error: Outcome | None = None, draft: dict[str, Any] | None = None
    ) -> Response:
        visitor = await self.signed_in(request)
        if isinstance(visitor, Response):
            return visitor
        workflow_id = request.path_params.get("workflow_id")
        item: dict[str, Any] = {
            "name": "",
            "description": "",
            "status": "active",
            "recipe": {"steps": [{"type": "log", "message": "Hello {{input.name}}"}]},
        }
        runs: list[dict[str, Any]] = []
        if workflow_id:
            item = await self.data(request, visitor, "get_workflow", {"workflow_id": workflow_id})
            outcome = await self.call(
                request,
                visitor,
                "list_workflow_runs",
                {"workflow_id": workflow_id, "limit": "10"},
                strings=True,
            )
            runs = outcome.body.get("data", []) if outcome.ok else []
        recipe_text = json.dumps(item["recipe"], indent=2)
        if draft is not None:
            item = {**item, **{k: v for k, v in draft.items() if k != "recipe"}}
            recipe_text = draft.get("recipe", recipe_text)
        return self.page(
            request,
            "workflow.html",
            status=error.status if error else 200,
            visitor=visitor,
            workflow=item,
            workflow_id=workflow_id,
            recipe_text=recipe_text,
            runs=runs,
            error=_message(error) if error else None,
            problems=(error.body["error"].get("details") or {}).get("errors", []) if error else [],
        )

    async def save_workflow(self, request: Request) -> Response:
        visitor = await self.posted(request)
        if isinstance(visitor, Response):
            return visitor
        form = await self.form(request)
        workflow_id = request.path_params.get("workflow_id")
        draft = {k: form.get(k, "") for k in ("name", "description", "status", "recipe")}
        try:
            recipe = json.loads(draft["recipe"] or "null")
        except ValueError as exc:
            error = ValidationFailed(f"The recipe is not valid JSON: {exc}.")
            fake = Outcome(400, error.body(""), "", error=error)
            return await self.workflow(request, error=fake, draft=draft)
        args: dict[str, Any] = {"name": draft["name"], "recipe": recipe}
        if draft["description"]:
            args["description"] = draft["description"]
        if draft["status"]:
            args["status"] = draft["status"]
        if workflow_id:
            args["workflow_id"] = workflow_id
        name = "update_workflow" if workflow_id else "create_workflow"
        outcome = await self.call(request, visitor, name, args)
        if outcome.error is not None:
            return await self.workflow(request, error=outcome, draft=draft)
        saved = outcome.body["data"]["id"]
        return RedirectResponse(f"/workflows/{saved}?saved=1", status_code=303)

    async def run_workflow(self, request: Request) -> Response:
        visitor = await self.posted(request)
        if isinstance(visitor, Response):
            return visitor
        form = await self.form(request)
        workflow_id = request.path_params["workflow_id"]
        try:
            run_input = json.loads(form.get("input") or "{}")
        except ValueError as exc:
            return self.refused(
                request, ValidationFailed(f"The input is not valid JSON: {exc}."), visitor
            )
        outcome = await self.call(
            request, visitor, "trigger_workflow", {"workflow_id": workflow_id, "input": run_input}
        )
        if outcome.error is not None:
            if outcome.error.code == "daily_workflow_cap_reached":
                return self.page(
                    request,
                    "error.html",
                    status=outcome.status,
                    visitor=visitor,
                    code=outcome.error.code,
                    title="Daily run limit reached",
                    message="This workspace has used all of today's workflow runs "
                    "for its plan. Runs are available again after midnight UTC, or "
                    "upgrade the plan for more.",
                )
            return self.refused(request, outcome.error, visitor)
        run = outcome.body["data"]
        return RedirectResponse(f"/runs/{run['id']}?queued=1", status_code=303)

    # runs -------------------------------------------------------------

    async def runs(self, request: Request) -> Response:
        visitor = await self.signed_in(request)
        if isinstance(visitor, Response):
            return visitor
        args = {
            k: v
            for k, v in request.query_params.items()
            if k in ("status", "workflow_id", "cursor") and v
        }
        outcome = await self.call(
            request, visitor, "list_workflow_runs", {**args, "limit": "50"}, strings=True
        )
        if outcome.error is not None:
            return self.refused(request, outcome.error, visitor)
        return self.page(
            request,
            "runs.html",
            visitor=visitor,
            runs=outcome.body["data"],
            next_cursor=outcome.body.get("next_cursor"),
            filters=args,
        )

    async def run(self, request: Request) -> Response:
        visitor = await self.signed_in(request)
        if isinstance(visitor, Response):
            return visitor
        run = await self.data(
            request, visitor, "get_workflow_run", {"run_id": request.path_params["run_id"]}
        )
        template = "run_progress.html" if request.query_params.get("fragment") else "run.html"
        return self.page(
            request,
            template,
            visitor=visitor,
            run=run,
            live=run["status"] in LIVE_RUN,
            queued=request.query_params.get("queued"),
        )

    # webhooks ---------------------------------------------------------

    async def webhooks(
        self,
        request: Request,
        *,
        error: str | None = None,
        status: int = 200,
        created: Any = None,
        draft: dict[str, str] | None = None,
    ) -> Response:
        visitor = await self.signed_in(request)
        if isinstance(visitor, Response):
            return visitor
        items = await self.all_items(request, visitor, "list_webhook_endpoints", {})
        return self.page(
            request,
            "webhooks.html",
            status=status,
            visitor=visitor,
            endpoints=items,
            error=error,
            created=created,
            draft=draft or {},
        )

    async def create_webhook(self, request: Request) -> Response:
        visitor = await self.posted(request)
        if isinstance(visitor, Response):
            return visitor
        form = await self.form(request)
        events = [
            e.strip()
            for e in form.get("event_types", "").replace("\n", ",").split(",")
            if e.strip()
        ]
        args: dict[str, Any] = {
            "name": form.get("name", ""),
            "url": form.get("url", ""),
            "event_types": events,
        }
        if form.get("description"):
            args["description"] = form["description"]
        outcome = await self.call(request, visitor, "create_webhook_endpoint", args)
        if outcome.error is not None:
            return await self.webhooks(
                request, error=_message(outcome), status=outcome.status, draft=form
            )
        return await self.webhooks(request, created=outcome.body["data"], status=201)

    async def webhook(
        self, request: Request, *, notice: str | None = None, error: str | None = None
    ) -> Response:
        visitor = await self.signed_in(request)
        if isinstance(visitor, Response):
            return visitor
        webhook_id = request.path_params["webhook_id"]
        endpoint = await self.data(
            request, visitor, "get_webhook_endpoint", {"webhook_id": webhook_id}
        )
        outcome = await self.call(
            request,
            visitor,
            "list_webhook_deliveries",
            {"webhook_id": webhook_id, "limit": "50"},
            strings=True,
        )
        deliveries = outcome.body.get("data", []) if outcome.ok else []
        return self.page(
            request,
            "webhook.html",
            visitor=visitor,
            endpoint=endpoint,
            deliveries=deliveries,
            notice=notice,
            error=error,
            opened=request.query_params.get("delivery"),
        )

    async def delivery(self, request: Request, *, error: str | None = None) -> Response:
        visitor = await self.signed_in(request)
        if isinstance(visitor, Response):
            return visitor
        webhook_id = request.path_params["webhook_id"]
        delivery_id = request.path_params["delivery_id"]
        endpoint = await self.data(
            request, visitor, "get_webhook_endpoint", {"webhook_id": webhook_id}
        )
        delivery = await self.data(
            request, visitor, "get_webhook_delivery", {"delivery_id": delivery_id}
        )
        if delivery["webhook_id"] != webhook_id:
            raise NotFound("webhook_delivery", delivery_id)
        return self.page(
            request,
            "delivery.html",
            status=400 if error else 200,
            visitor=visitor,
            endpoint=endpoint,
            delivery=delivery,
            error=error,
            retried=request.query_params.get("retried"),
        )

    async def retry_delivery(self, request: Request) -> Response:
        visitor = await self.posted(request)
        if isinstance(visitor, Response):
            return visitor
        webhook_id = request.path_params["webhook_id"]
        delivery_id = request.path_params["delivery_id"]
        outcome = await self.call(
            request, visitor, "retry_webhook_delivery", {"delivery_id": delivery_id}
        )
        if outcome.error is not None:
            if outcome.status == 403:
                return self.refused(request, outcome.error, visitor)
            return await self.delivery(request, error=_message(outcome))
        where = f"/webhooks/{webhook_id}/deliveries/{delivery_id}?retried=1"
        return RedirectResponse(where, status_code=303)

    async def test_webhook(self, request: Request) -> Response:
        visitor = await self.posted(request)
        if isinstance(visitor, Response):
            return visitor
        webhook_id = request.path_params["webhook_id"]
        outcome = await self.call(
            request, visitor, "send_test_webhook_event", {"webhook_id": webhook_id}
        )
        if outcome.error is not None:
            return await self.webhook(request, error=_message(outcome))
        return RedirectResponse(f"/webhooks/{webhook_id}?tested=1", status_code=303)

    # members ----------------------------------------------------------

    async def members(
        self,
        request: Request,
        *,
        invited: Any = None,
        error: str | None = None,
        status: int = 200,
    ) -> Response:
        visitor = await self.signed_in(request)
        if isinstance(visitor, Response):
            return visitor
        items = await self.all_items(request, visitor, "list_members", {})
        return self.page(
            request,
            "members.html",
            status=status,
            visitor=visitor,
            members=items,
            invited=invited,
            error=error,
            roles=("owner", "admin", "member", "viewer"),
        )

    async def invite(self, request: Request) -> Response:
        visitor = await self.posted(request)
        if isinstance(visitor, Response):
            return visitor
        form = await self.form(request)
        args = {"email": form.get("email", ""), "role": form.get("role", "member")}
        if form.get("name"):
            args["name"] = form["name"]
        outcome = await self.call(request, visitor, "invite_member", args)
        if outcome.error is not None:
            return await self.members(request, error=_message(outcome), status=outcome.status)
        return await self.members(request, invited=outcome.body["data"], status=201)

    async def member_action(self, request: Request) -> Response:
        visitor = await self.posted(request)
        if isinstance(visitor, Response):
            return visitor
        member_id = request.path_params["member_id"]
        action = request.path_params["action"]
        if action == "role":
            role = (await self.form(request)).get("role", "")
            outcome = await self.call(
                request, visitor, "change_member_role", {"member_id": member_id, "role": role}
            )
        elif action == "remove":
            outcome = await self.call(request, visitor, "remove_member", {"member_id": member_id})
        else:
            raise HTTPException(404)
        if outcome.error is not None:
            return await self.members(request, error=_message(outcome), status=outcome.status)
        return RedirectResponse("/members?saved=1", status_code=303)

    # audit, usage -----------------------------------------------------

    async def audit(self, request: Request) -> Response:
        visitor = await self.signed_in(request)
        if isinstance(visitor, Response):
            return visitor
        keys = ("operation", "channel", "outcome", "since", "until", "cursor")
        filters = {k: v for k, v in request.query_params.items() if k in keys and v}
        args = dict(filters)
        for bound in ("since", "until"):  # a date field's YYYY-MM-DD: that day, UTC
            if re.fullmatch(r"\d{4}-\d{2}-\d{2}", args.get(bound, "")):
                args[bound] += "T00:00:00Z" if bound == "since" else "T23:59:59.999999Z"
        outcome = await self.call(
            request, visitor, "list_audit_log", {**args, "limit": "50"}, strings=True
        )
        if outcome.error is not None and outcome.status != 400:
            return self.refused(request, outcome.error, visitor)
        more = None
        if outcome.ok and outcome.body.get("next_cursor"):
            more = urlencode(
                {
                    **{k: v for k, v in filters.items() if k != "cursor"},
                    "cursor": outcome.body["next_cursor"],
                }
            )
        return self.page(
            request,
            "audit.html",
            visitor=visitor,
            filters=filters,
            entries=outcome.body.get("data", []) if outcome.ok else [],
            error=_message(outcome) if not outcome.ok else None,
            more=more,
        )

    async def usage(self, request: Request) -> Response:
        visitor = await self.signed_in(request)
        if isinstance(visitor, Response):
            return visitor
        if visitor.principal is None:
            return self.page(request, "no_workspace.html", visitor=visitor)
        today = utcnow().date()
        days = [today - timedelta(days=n) for n in range(13, -1, -1)]
        since = days[0].isoformat()  # ISO timestamps sort as text
        runs: list[dict[str, Any]] = []
        deliveries: list[dict[str, Any]] = []
        capped = False
        if visitor.can("workflows:read"):
            runs = await self.all_items(
                request, visitor, "list_workflow_runs", {}, most=USAGE_MOST, newer_than=since
            )
            capped = len(runs) >= USAGE_MOST
        if visitor.can("integrations:read"):
            endpoints = await self.all_items(
                request, visitor, "list_webhook_endpoints", {}, most=USAGE_ENDPOINTS
            )
            for endpoint in endpoints:
                batch = await self.all_items(
                    request,
                    visitor,
                    "list_webhook_deliveries",
                    {"webhook_id": endpoint["id"]},
                    most=USAGE_MOST,
                    newer_than=since,
                )
                capped = capped or len(batch) >= USAGE_MOST
                deliveries += batch
            capped = capped or len(endpoints) >= USAGE_ENDPOINTS
        run_days = _per_day(runs, days)
        delivery_days = _per_day(deliveries, days)
        plan = visitor.principal.plan
        subscription = None
        if self.allows(visitor, "get_billing_subscription"):
            subscription = await self.data(request, visitor, "get_billing_subscription")
        return self.page(
            request,
            "usage.html",
            visitor=visitor,
            plan=plan,
            subscription=subscription,
            today_runs=run_days[-1][1],
            capped=capped,
            runs_chart=charts.bars(run_days, "Workflow runs per day, last 14 days"),
            deliveries_chart=charts.bars(delivery_days, "Webhook deliveries per day, last 14 days"),
        )

    async def static(self, request: Request) -> Response:
        name = request.path_params["name"]
        path = STATIC / name
        if "/" in name or path.suffix not in _MEDIA or not path.is_file():
            raise HTTPException(404)
        return FileResponse(
            path, media_type=_MEDIA[path.suffix], headers={"Cache-Control": "max-age=3600"}
        )


LIVE_RUN = frozenset({"queued", "running", "waiting", "pending"})
_NO_STORE = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    # Only this server's own files run: no inline script, no third-party origin.
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'",
}


USAGE_MOST = 2000
"""At most this many runs (and deliveries per endpoint) are counted for the usage charts."""
USAGE_ENDPOINTS = 25


def _per_day(items: list[dict[str, Any]], days: list[date]) -> list[tuple[date, int]]:
    counts = Counter(str(item.get("created_at", ""))[:10] for item in items)
    return [(day, counts.get(day.isoformat(), 0)) for day in days]


def _message(outcome: Outcome | None) -> str:
    if outcome is None or outcome.error is None:
        return ""
    return outcome.error.message


def _int(value: str, name: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ValidationFailed(f"Invalid value for '{name}': a whole number.") from None


def _safe_next(target: str | None) -> str:
    """Only a local path (never ``//host`` or a scheme): no open redirect."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def routes(runtime: Runtime) -> list[Route]:
    from web import desk  # it builds on Pages

    p = Pages(runtime)

    def guarded(handler: Any) -> Any:
        async def endpoint(request: Request) -> Response:
            try:
                return await handler(request)
            except auth.NoWorkspace:
                visitor = await auth.visitor(request, runtime)
                return p.page(request, "no_workspace.html", visitor=visitor)
            except DomainError as error:
                return p.refused(request, error, await auth.visitor(request, runtime))

        endpoint.__name__ = handler.__name__
        return endpoint

    get, post = ["GET"], ["POST"]
    table = [
        ("/", p.overview, get),
        ("/signin", p.signin_form, get),
        ("/signin", p.signin, post),
        ("/signout", p.signout, post),
        ("/invitations/{token}", p.invitation_form, get),
        ("/invitations/{token}", p.invitation, post),
        ("/reset-password", p.reset_request_form, get),
        ("/reset-password", p.reset_request, post),
        ("/reset-password/{token}", p.reset_form, get),
        ("/reset-password/{token}", p.reset, post),
        ("/workspace", p.switch, post),
        ("/tokens", p.tokens, get),
        ("/tokens", p.create_token, post),
        ("/tokens/{token_id}/{action}", p.token_action, post),
        ("/workflows", p.workflows, get),
        ("/workflows", p.save_workflow, post),
        ("/workflows/new", p.workflow, get),
        ("/workflows/{workflow_id}", p.workflow, get),
        ("/workflows/{workflow_id}", p.save_workflow, post),
        ("/workflows/{workflow_id}/run", p.run_workflow, post),
        ("/runs", p.runs, get),
        ("/runs/{run_id}", p.run, get),
        ("/webhooks", p.webhooks, get),
        ("/webhooks", p.create_webhook, post),
        ("/webhooks/{webhook_id}", p.webhook, get),
        ("/webhooks/{webhook_id}/test", p.test_webhook, post),
        ("/webhooks/{webhook_id}/deliveries/{delivery_id}", p.delivery, get),
        ("/webhooks/{webhook_id}/deliveries/{delivery_id}/retry", p.retry_delivery, post),
        ("/members", p.members, get),
        ("/members", p.invite, post),
        ("/members/{member_id}/{action}", p.member_action, post),
        ("/audit", p.audit, get),
        ("/usage", p.usage, get),
        *desk.routes(p),
        ("/static/{name}", p.static, get),
    ]
    return [
        Route(path, guarded(handler), methods=methods, name=f"web_{handler.__name__}_{i}")
        for i, (path, handler, methods) in enumerate(table)
    ]
