"""The toy domain's operations, declared once."""

from __future__ import annotations

from core.operations import Context, Declare, Toolset
from core.pagination import Page
from tests.kit.toy import service
from tests.kit.toy.models import Widget
from tests.kit.toy.schemas import CreateWidgetIn, ListWidgetsIn, WidgetIdIn, WidgetPublic

widgets = Declare(scope="crm", toolset="toy", writes_emit_events=True)


async def create_widget(ctx: Context, a: CreateWidgetIn) -> Widget:
    widget = await service.create(ctx.session, ctx.workspace_id, a.name)
    ctx.resource_id = widget.id
    return widget


async def get_widget(ctx: Context, a: WidgetIdIn) -> Widget:
    return await service.get(ctx.session, ctx.workspace_id, a.widget_id)


async def list_widgets(ctx: Context, a: ListWidgetsIn) -> Page:
    return await service.page(ctx.session, ctx.workspace_id, a.limit, a.cursor)


OPERATIONS = [
    widgets.list("list_widgets", "/toy/widgets", list_widgets, ListWidgetsIn, WidgetPublic,
                 summary="List widgets", description="Widgets, newest first."),
    widgets.create("create_widget", "/toy/widgets", create_widget, CreateWidgetIn,
                   WidgetPublic, summary="Create a widget", description="Add a widget."),
    widgets.get("get_widget", "/toy/widgets/{widget_id}", get_widget, WidgetIdIn,
                WidgetPublic, summary="Get a widget", description="One widget by id."),
]  # fmt: skip
TOOLSETS = (Toolset("toy", "Widgets (a test-only domain)."),)
