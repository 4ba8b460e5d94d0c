"""`/account`: who you are and your API tokens (create one, shown once; revoke)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from admin.deps import DbSession, require_permission
from admin.templating import render
from callcenter.accounts import Permission, TokenNotFound, create_token, list_tokens, revoke_token
from callcenter.models import User

router = APIRouter()
TokenOwner = Annotated[User, Depends(require_permission(Permission.TOKENS_OWN))]


@router.get("/account")
def account_page(request: Request, db: DbSession, user: TokenOwner) -> Response:
    return render(request, "account.html", {"tokens": list_tokens(db, user)})


@router.post("/account/tokens")
def account_create_token(
    request: Request,
    db: DbSession,
    user: TokenOwner,
    name: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    row, plain = create_token(db, user, name or "web")
    db.commit()
    context = {"tokens": list_tokens(db, user), "new_token": plain, "new_token_name": row.name}
    return render(request, "account.html", context, status_code=201)


@router.post("/account/tokens/{token_id}/revoke")
def account_revoke_token(
    request: Request, db: DbSession, user: TokenOwner, token_id: int
) -> Response:
    try:
        revoke_token(db, user, token_id)
    except TokenNotFound as exc:
        context = {"tokens": list_tokens(db, user), "error": str(exc)}
        return render(request, "account.html", context, status_code=404)
    db.commit()
    return RedirectResponse("/account", status_code=303)
