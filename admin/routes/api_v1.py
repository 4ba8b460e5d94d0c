"""`/api/v1`: the REST API (Bearer API token or session). Errors are problem details."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from admin.deps import CurrentUser, DbSession, require_permission
from admin.schemas import Me, TokenCreate, TokenCreated, TokenPublic, UserPublic
from callcenter.accounts import Permission, TokenNotFound, create_token, list_tokens, revoke_token
from callcenter.accounts import list_users as all_users
from callcenter.models import User

router = APIRouter(prefix="/api/v1", tags=["api"])
TokenOwner = Annotated[User, Depends(require_permission(Permission.TOKENS_OWN))]
UserAdmin = Annotated[User, Depends(require_permission(Permission.USERS_MANAGE))]


@router.get("/me")
def me(user: CurrentUser) -> Me:
    """Who the token or session belongs to, and what they may do."""
    return Me.of(user)


@router.get("/me/tokens")
def my_tokens(db: DbSession, user: TokenOwner) -> list[TokenPublic]:
    return [TokenPublic.of(t) for t in list_tokens(db, user)]


@router.post("/me/tokens", status_code=201)
def new_token(db: DbSession, user: TokenOwner, body: TokenCreate) -> TokenCreated:
    """Create a token; the response is the only time the token itself is shown."""
    row, plain = create_token(db, user, body.name)
    db.commit()
    return TokenCreated(**TokenPublic.of(row).model_dump(), token=plain)


@router.delete("/me/tokens/{token_id}", status_code=204)
def delete_token(db: DbSession, user: TokenOwner, token_id: int) -> Response:
    try:
        revoke_token(db, user, token_id)
    except TokenNotFound as exc:
        raise HTTPException(404, str(exc)) from None
    db.commit()
    return Response(status_code=204)


@router.get("/users")
def list_users(db: DbSession, user: UserAdmin) -> list[UserPublic]:
    return [UserPublic.of(u) for u in all_users(db)]


@router.get("/openapi.json", include_in_schema=False)
def openapi(request: Request, user: CurrentUser) -> dict[str, Any]:
    """The API description, for signed-in users only (it maps every route)."""
    schema: dict[str, Any] = request.app.openapi()
    return schema
