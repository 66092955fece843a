"""What the toy domain takes and gives."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from core.fields import OneLine, RecordId, one_line, record_id
from core.pagination import ListParams


class CreateWidgetIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: OneLine = one_line("What to call it.", 100, required=True)


class WidgetIdIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    widget_id: RecordId = record_id("widget", "wid", required=True)


class ListWidgetsIn(ListParams):
    model_config = ConfigDict(extra="forbid")


class WidgetPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    created_at: datetime
