"""Shapes the REST API returns (the tables stay internal; these are what clients see)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from callcenter.accounts import permissions_of
from callcenter.accounts.times import as_utc
from callcenter.models import ApiToken, User


def _utc(value: datetime | None) -> datetime | None:
    # SQLite returns naive datetimes; clients get an explicit UTC offset either way.
    return as_utc(value) if value is not None else None


class UserPublic(BaseModel):
    id: int
    email: str
    display_name: str
    role: str
    active: bool
    last_login_at: datetime | None

    @classmethod
    def of(cls, user: User) -> UserPublic:
        assert user.id is not None
        return cls(
            id=user.id,
            email=user.email,
            display_name=user.display_name,
            role=user.role,
            active=user.active,
            last_login_at=_utc(user.last_login_at),
        )


class Me(UserPublic):
    permissions: list[str]

    @classmethod
    def of(cls, user: User) -> Me:
        base = UserPublic.of(user).model_dump()
        return cls(**base, permissions=sorted(p.value for p in permissions_of(user)))


class TokenPublic(BaseModel):
    id: int
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, row: ApiToken) -> TokenPublic:
        assert row.id is not None
        return cls(
            id=row.id,
            name=row.name,
            prefix=row.prefix,
            created_at=as_utc(row.created_at),
            last_used_at=_utc(row.last_used_at),
            revoked_at=_utc(row.revoked_at),
        )


class TokenCreate(BaseModel):
    name: str = Field(default="", max_length=100)


class TokenCreated(TokenPublic):
    token: str = Field(description="The token itself; shown this once, store it now")
