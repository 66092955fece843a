"""Recipes: the three step types, validation with step-precise error codes, and the
``{{input.key}}`` substitution (plain text replacement, never evaluation)."""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from core.errors import Unprocessable
from core.events.names import EVENT_KEY_RE

MAX_STEPS = 50
STEP_TYPES: tuple[str, ...] = ("log", "delay", "fire_webhook_event")


class LogStep(BaseModel):
    """Record ``message`` on the run's output trail."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["log"]
    message: str = Field(min_length=1, max_length=2000)


class DelayStep(BaseModel):
    """Pause the run for ``seconds`` without holding a worker."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["delay"]
    seconds: int = Field(ge=1, le=30)


class FireWebhookEventStep(BaseModel):
    """Queue ``event`` with ``payload`` to every subscribed webhook endpoint."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["fire_webhook_event"]
    event: str = Field(min_length=1, max_length=120)
    payload: dict[str, Any] = Field(default_factory=dict)


Step = Annotated[LogStep | DelayStep | FireWebhookEventStep, Field(discriminator="type")]
_STEP = TypeAdapter(Step)


class Recipe(BaseModel):
    model_config = ConfigDict(extra="forbid")

    continue_on_error: bool = False
    steps: list[Step] = Field(min_length=1, max_length=MAX_STEPS)


def _invalid(message: str, **details: Any) -> Unprocessable:
    return Unprocessable(message, code="recipe_invalid", details=details)


def parse_recipe(raw: Any, reserved: Collection[str] = ()) -> Recipe:
    """Validate ``raw`` (a JSON object) into a ``Recipe``; ``reserved``: the built-in event
    types, which a step may not fire.

    Raises ``Unprocessable`` with code ``step_type_not_allowed``, ``recipe_too_large`` or
    ``recipe_invalid`` and ``details`` naming the offending step index and field.
    """
    if not isinstance(raw, dict):
        raise _invalid("A recipe must be a JSON object with a 'steps' list.")
    unknown = sorted(set(raw) - {"steps", "continue_on_error"})
    if unknown:
        raise _invalid(f"Unknown recipe field '{unknown[0]}'.", field=unknown[0])
    continue_on_error = raw.get("continue_on_error", False)
    if not isinstance(continue_on_error, bool):
        raise _invalid("'continue_on_error' must be true or false.", field="continue_on_error")
    steps = raw.get("steps")
    if not isinstance(steps, list) or not steps:
        raise _invalid("A recipe needs a non-empty 'steps' list.", field="steps")
    if len(steps) > MAX_STEPS:
        raise Unprocessable(
            f"A recipe may have at most {MAX_STEPS} steps; this one has {len(steps)}.",
            code="recipe_too_large",
            # The first step over the limit is the offending one.
            details={"index": MAX_STEPS, "max_steps": MAX_STEPS, "steps": len(steps)},
        )
    parsed = []
    for index, step in enumerate(steps):
        if not isinstance(step, dict):
            raise _invalid(f"Step {index} must be a JSON object.", index=index)
        step_type = step.get("type")
        if step_type not in STEP_TYPES:
            raise Unprocessable(
                f"Step {index} has type {json.dumps(step_type)}; allowed step types are "
                f"{', '.join(STEP_TYPES)}.",
                code="step_type_not_allowed",
                details={"index": index, "type": step_type, "allowed": list(STEP_TYPES)},
            )
        try:
            model = _STEP.validate_python(step, strict=True)
        except ValidationError as exc:
            err = exc.errors(include_url=False, include_context=False, include_input=False)[0]
            loc = [str(p) for p in err["loc"] if str(p) != step_type]
            field = ".".join(loc) or "(step)"
            raise _invalid(
                f"Step {index} ({step_type}): invalid '{field}': {err['msg']}.",
                index=index,
                field=field,
            ) from None
        if isinstance(model, FireWebhookEventStep) and "{{" not in model.event:
            check_event_name(model.event, reserved, index=index)
        parsed.append(model)
    return Recipe(continue_on_error=continue_on_error, steps=parsed)


def event_name_problem(event: str, reserved: Collection[str]) -> tuple[str, str] | None:
    """``(code, message)`` if a workflow may not fire ``event``, else None: it is not a
    well-formed event type, or it is a built-in one, which only the system emits (so
    receivers can trust a ``contact.created`` to describe a real contact).

    A custom type needs no registration: one nobody subscribes to matches no endpoint
    (``matched_endpoints: 0``).
    """
    if not EVENT_KEY_RE.match(event):
        return (
            "event_type_invalid",
            f"'{event}' is not a valid event type (lowercase, dotted, e.g. campaign.kickoff).",
        )
    if event in reserved:
        return (
            "event_type_reserved",
            f"'{event}' is a built-in event type: only Patchbay emits it. Fire a custom "
            "event type (register_integration_event_type) instead.",
        )
    return None


def check_event_name(event: str, reserved: Collection[str], *, index: int) -> None:
    """Refuse a step's event at save time (a templated one is checked when it runs)."""
    problem = event_name_problem(event, reserved)
    if problem is None:
        return
    code, message = problem
    if code == "event_type_reserved":
        raise Unprocessable(
            f"Step {index}: {message}", code=code, details={"index": index, "field": "event"}
        )
    raise _invalid(f"Step {index}: {message}", index=index, field="event")


def normalized(recipe: Recipe) -> dict[str, Any]:
    """The JSON stored for a recipe (defaults filled in)."""
    return recipe.model_dump(mode="json")


def step_count(raw: Any) -> int:
    """Number of steps of a stored recipe, even an invalid one."""
    steps = raw.get("steps") if isinstance(raw, dict) else None
    return len(steps) if isinstance(steps, list) else 0


# ---------------------------------------------------------------- templates

_TEMPLATE_RE = re.compile(r"\{\{\s*input((?:\.[A-Za-z0-9_\-]+)*)\s*\}\}")
_MISSING = object()


def _lookup(data: Any, path: str) -> Any:
    value = data
    for part in path.split(".")[1:]:
        if isinstance(value, dict):
            value = value.get(part, _MISSING)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return _MISSING
        if value is _MISSING:
            return _MISSING
    return value


def _text(value: Any) -> str:
    if value is _MISSING or value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def render_text(template: str, data: dict[str, Any]) -> str:
    """Replace every ``{{input.a.b}}`` with that value of ``data`` (missing → empty)."""
    if "{{" not in template:
        return template
    return _TEMPLATE_RE.sub(lambda m: _text(_lookup(data, m.group(1))), template)


def render_value(value: Any, data: dict[str, Any]) -> Any:
    """``render_text`` applied to every string inside ``value`` (keys are left alone)."""
    if isinstance(value, str):
        return render_text(value, data)
    if isinstance(value, dict):
        return {k: render_value(v, data) for k, v in value.items()}
    if isinstance(value, list):
        return [render_value(v, data) for v in value]
    return value
