"""`/api/v1/numbers`: list, map (PUT, idempotent) and unmap phone numbers."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from starlette.responses import Response

from admin.deps import DbSession, require_permission
from admin.errors import ApiProblem
from admin.schemas_flows import NumberPublic, NumberRequest
from callcenter.accounts import Permission
from callcenter.flowstore import FlowStore, FlowStoreError, InvalidNumber, NumberConflict
from callcenter.models import User

router = APIRouter(prefix="/api/v1/numbers", tags=["numbers"])
Manager = Annotated[User, Depends(require_permission(Permission.NUMBERS_MANAGE))]


@router.get("")
def list_numbers(db: DbSession, user: Manager) -> list[NumberPublic]:
    return [NumberPublic.of(n) for n in FlowStore(db).list_numbers()]


@router.put("/{number}")
def map_number(db: DbSession, user: Manager, number: str, body: NumberRequest) -> NumberPublic:
    """Route `number` to a flow; a number another flow has is moved only with `replace`."""
    store = FlowStore(db, user)
    try:
        row = store.map_number(number, body.flow, label=body.label, replace=body.replace)
    except NumberConflict as exc:
        raise ApiProblem(409, str(exc), title="Number in use",
                         current_flow=exc.current_flow) from None
    except InvalidNumber as exc:
        raise ApiProblem(422, str(exc), title="Invalid phone number") from None
    except FlowStoreError as exc:
        raise ApiProblem(404, str(exc)) from None
    db.commit()
    found = next(n for n in store.list_numbers() if n.number == row.number)
    return NumberPublic.of(found)


@router.delete("/{number}", status_code=204)
def unmap_number(db: DbSession, user: Manager, number: str) -> Response:
    if not FlowStore(db, user).unmap_number(number):
        raise ApiProblem(404, f"{number} is not mapped to any flow")
    db.commit()
    return Response(status_code=204)
