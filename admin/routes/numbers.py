"""`/numbers`: map E.164 phone numbers to flows; invalid numbers and conflicts said in words."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form
from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from admin.deps import DbSession, require_permission
from admin.templating import render
from callcenter.accounts import Permission
from callcenter.flowstore import FlowStore, FlowStoreError, InvalidNumber, NumberConflict
from callcenter.models import User

router = APIRouter()
Manager = Annotated[User, Depends(require_permission(Permission.NUMBERS_MANAGE))]
DONE = {"mapped": "Number mapped.", "removed": "Number removed."}


def _page(request: Request, db: Session, *, status_code: int = 200,
          **context: object) -> Response:
    store = FlowStore(db)
    full = {
        "section": "numbers",
        "numbers": store.list_numbers(),
        "flows": store.list_flows(),
        "form": {"number": "", "flow": "", "label": ""},
        "done": DONE.get(request.query_params.get("done", "")),
        **context,
    }
    return render(request, "numbers.html", full, status_code=status_code)


@router.get("/numbers")
def numbers_page(request: Request, db: DbSession, user: Manager) -> Response:
    return _page(request, db)


@router.post("/numbers")
def map_number(
    request: Request,
    db: DbSession,
    user: Manager,
    number: Annotated[str, Form(max_length=64)] = "",
    flow: Annotated[str, Form(max_length=100)] = "",
    label: Annotated[str, Form(max_length=200)] = "",
    replace: Annotated[bool, Form()] = False,
) -> Response:
    form = {"number": number, "flow": flow, "label": label}
    try:
        FlowStore(db, user).map_number(number, flow, label=label, replace=replace)
    except NumberConflict as exc:
        db.rollback()
        return _page(request, db, status_code=409, form=form, conflict=exc)
    except InvalidNumber as exc:
        db.rollback()
        return _page(request, db, status_code=422, form=form, errors={"number": str(exc)})
    except FlowStoreError as exc:  # no such flow
        db.rollback()
        return _page(request, db, status_code=422, form=form, errors={"flow": str(exc)})
    db.commit()
    return RedirectResponse("/numbers?done=mapped", status_code=303)


@router.post("/numbers/{number}/delete")
def unmap_number(request: Request, db: DbSession, user: Manager, number: str) -> Response:
    if not FlowStore(db, user).unmap_number(number):
        return _page(request, db, status_code=404,
                     errors={"number": f"{number} is not mapped to any flow"})
    db.commit()
    return RedirectResponse("/numbers?done=removed", status_code=303)
