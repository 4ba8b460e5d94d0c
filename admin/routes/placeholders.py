"""Flows, Console and Calls until their pages land: the links and the permissions are real.

Each route here is replaced by its own module (routes/flows.py, console.py, calls.py);
delete the entry from PAGES when that happens.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends
from starlette.requests import Request
from starlette.responses import Response

from admin.deps import require_permission
from admin.templating import render
from callcenter.accounts import Permission

router = APIRouter()

# Every page has landed (console: routes/console.py); a new section starts here first.
PAGES: dict[str, tuple[str, Permission, str]] = {}


def _page(slug: str) -> None:
    title, permission, blurb = PAGES[slug]

    def page(request: Request) -> Response:
        return render(
            request, "placeholder.html", {"title": title, "blurb": blurb, "section": slug}
        )

    page.__name__ = f"{slug}_page"
    router.add_api_route(
        f"/{slug}",
        page,
        methods=["GET"],
        name=f"{slug}_page",
        dependencies=[Depends(require_permission(permission))],
    )


for _slug in PAGES:
    _page(_slug)
