"""Operations on the caller's own workspace and token (any valid token may call them)."""

from __future__ import annotations

from core.operations import ANY_SCOPE, Context, Declare, Toolset
from core.workspaces import service
from core.workspaces.schemas import MeOut, NoInput

workspace = Declare(scope="workspace", toolset="workspace", read_scope=ANY_SCOPE)


async def get_me(ctx: Context, _: NoInput) -> MeOut:
    return await service.me(ctx.session, ctx.principal)


OPERATIONS = [
    workspace.get(
        "get_me", "/me", get_me, NoInput, MeOut,
        summary="Who am I",
        description=(
            "The caller's workspace, its plan's limits and this token's scopes and abilities. "
            "Call it first to learn what this token may do."
        ),
    ),
]  # fmt: skip

TOOLSETS = (Toolset("workspace", "get_me: the workspace, its plan and this token.", default=True),)
