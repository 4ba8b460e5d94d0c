"""What `callcenter dev` prepares on start: schema, example flows, numbers, two logins.

Everything is idempotent: a second start changes nothing an admin has changed since (a
number mapped elsewhere stays mapped; an existing login keeps its password).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import Engine

from callcenter import migrate
from callcenter.accounts import create_user
from callcenter.accounts.users import find_user
from callcenter.db import session_scope
from callcenter.flow.validate import validate_file
from callcenter.flowstore import FlowStore, NumberMapping

EXAMPLES = Path(__file__).resolve().parents[2] / "flows"
# The example flows answer these numbers (the README's softphone example dials the first).
DEV_NUMBERS = {
    "+15550001000": "customer_support",
    "+15550001001": "appointment_booking",
    "+15550001002": "after_hours",
}
DEV_LOGINS = (
    ("admin@callcenter.dev", "admin", "Dev Admin"),
    ("supervisor@callcenter.dev", "supervisor", "Dev Supervisor"),
)


@dataclass(frozen=True, slots=True)
class SeededLogin:
    email: str
    role: str
    # Only on the start that created the account: it is never stored in clear anywhere.
    password: str | None


def migrate_to_head(url: str) -> None:
    migrate.upgrade(url, "head")


def seed_flows(engine: Engine, directory: Path = EXAMPLES) -> list[NumberMapping]:
    """Publish each example flow whose text changed; map the dev numbers nobody mapped yet."""
    with session_scope(engine) as s:
        store = FlowStore(s)
        for path in sorted(directory.glob("*.yaml")):
            problems = validate_file(path)
            if problems:
                where = "; ".join(f"{p.file}:{p.line}: {p.message}" for p in problems[:3])
                raise ValueError(f"example flow {path.name} does not validate: {where}")
            store.publish_if_changed(path.read_text(encoding="utf-8"), author="dev seed",
                                     file=str(path))
        mapped = {m.number for m in store.list_numbers()}
        for number, flow in DEV_NUMBERS.items():
            if number not in mapped and store.published(flow) is not None:
                store.map_number(number, flow, label="callcenter dev")
        return store.list_numbers()


def seed_logins(engine: Engine) -> list[SeededLogin]:
    """The dev admin and supervisor, created with fresh random passwords on first start."""
    out: list[SeededLogin] = []
    with session_scope(engine) as s:
        for email, role, name in DEV_LOGINS:
            if find_user(s, email) is not None:
                out.append(SeededLogin(email, role, None))
                continue
            password = secrets.token_urlsafe(12)
            create_user(s, email, password, role, display_name=name, actor="callcenter dev")
            out.append(SeededLogin(email, role, password))
    return out
