"""Flows in the database: versions, publishing, rollback and the phone-number mapping.

Every version is validated before it is stored. A flow has at most one published version;
publishing archives the old one and publishes the new one in one transaction (the database's
partial unique index backs this up under concurrency). Rollback republishes an earlier
version as it was. SQL stays here; `callcenter.flow` knows nothing of the database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from callcenter import models
from callcenter.flow.schema import Flow
from callcenter.flow.validate import load_flow

_E164 = re.compile(r"^\+[1-9]\d{6,14}$")


class FlowStoreError(ValueError):
    """A store operation cannot be done; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class FlowSummary:
    """One row of `flows list`."""

    name: str
    description: str
    versions: int
    latest: int
    published: int | None
    numbers: list[str]


@dataclass(frozen=True, slots=True)
class PublishedFlow:
    """What a call needs: the validated flow and the version row it came from."""

    flow: Flow
    version: models.FlowVersion


class FlowStore:
    """Flow operations on one session; the caller owns the transaction (`db.session_scope`)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    # ------------------------------------------------------------ versions

    def save_draft(self, yaml_text: str, *, author: str = "", note: str = "",
                   file: str = "<flow>") -> models.FlowVersion:
        """Validate and store YAML as the next draft version of its flow (created if new)."""
        parsed = load_flow(yaml_text, file)  # raises FlowValidationError with every problem
        row = self._flow_row(parsed.name, lock=True)
        if row is None:
            row = models.Flow(name=parsed.name, description=parsed.description[:500])
            self.session.add(row)
            self.session.flush()
        elif parsed.description:
            row.description = parsed.description[:500]
        assert row.id is not None
        latest = self.session.exec(
            select(func.max(models.FlowVersion.version)).where(
                models.FlowVersion.flow_id == row.id)
        ).one()
        version = models.FlowVersion(
            flow_id=row.id, version=(latest or 0) + 1, yaml_text=yaml_text,
            status=models.FlowStatus.DRAFT, author=author[:200], note=note[:500])
        self.session.add(version)
        self.session.flush()
        return version

    def publish(self, name: str, version: int) -> models.FlowVersion:
        """Make `version` the published one; the previously published version is archived."""
        row = self._flow_row(name, lock=True)
        if row is None:
            raise FlowStoreError(f"no flow named {name!r}; `callcenter flows list` shows them")
        target = self._version(row, version)
        current = self.session.exec(
            select(models.FlowVersion).where(
                models.FlowVersion.flow_id == row.id,
                models.FlowVersion.status == models.FlowStatus.PUBLISHED)
        ).first()
        if current is not None and current.id == target.id:
            return target
        # Re-validate: a version saved under an older schema must still load before it goes live.
        load_flow(target.yaml_text, f"{name} v{version}")
        if current is not None:
            current.status = models.FlowStatus.ARCHIVED
            self.session.add(current)
            self.session.flush()  # the old one must be archived before the new is published
        target.status = models.FlowStatus.PUBLISHED
        target.published_at = models.utcnow()
        self.session.add(target)
        try:
            self.session.flush()
        except sa.exc.IntegrityError:
            raise FlowStoreError(
                f"another publish of {name!r} happened at the same time; try again") from None
        return target

    def publish_text(self, yaml_text: str, *, author: str = "", note: str = "",
                     file: str = "<flow>") -> models.FlowVersion:
        """Save YAML as a new version and publish it, in the caller's transaction."""
        draft = self.save_draft(yaml_text, author=author, note=note, file=file)
        return self.publish(self.flow_name(draft), draft.version)

    def publish_if_changed(self, yaml_text: str, *, author: str = "",
                           file: str = "<flow>") -> models.FlowVersion | None:
        """Publish unless the published version already has exactly this text (for seeding)."""
        parsed = load_flow(yaml_text, file)
        current = self.published(parsed.name)
        if current is not None and current.version.yaml_text == yaml_text:
            return None
        return self.publish_text(yaml_text, author=author, file=file)

    def rollback(self, name: str, version: int) -> models.FlowVersion:
        """Publish an earlier version again, exactly as it was stored."""
        row = self._flow_row(name)
        if row is None:
            raise FlowStoreError(f"no flow named {name!r}; `callcenter flows list` shows them")
        self._version(row, version)  # a clear error if it does not exist
        published = self.published(name)
        if published is not None and version >= published.version.version:
            raise FlowStoreError(
                f"{name!r} v{version} is not earlier than the published v"
                f"{published.version.version}; use `flows publish` to go forward")
        return self.publish(name, version)

    def versions(self, name: str) -> list[models.FlowVersion]:
        """All versions of a flow, oldest first."""
        row = self._flow_row(name)
        if row is None:
            raise FlowStoreError(f"no flow named {name!r}")
        return list(self.session.exec(
            select(models.FlowVersion).where(models.FlowVersion.flow_id == row.id)
            .order_by(col(models.FlowVersion.version))).all())

    def published(self, name: str) -> PublishedFlow | None:
        """The published version of a flow, validated, or None."""
        row = self.session.exec(
            select(models.FlowVersion).join(models.Flow).where(
                models.Flow.name == name,
                models.FlowVersion.status == models.FlowStatus.PUBLISHED)
        ).first()
        if row is None:
            return None
        return PublishedFlow(load_flow(row.yaml_text, f"{name} v{row.version}"), row)

    def list_flows(self) -> list[FlowSummary]:
        """Every flow with its version counts, published version and numbers."""
        out: list[FlowSummary] = []
        for row in self.session.exec(select(models.Flow).order_by(col(models.Flow.name))):
            versions = self.session.exec(
                select(models.FlowVersion).where(models.FlowVersion.flow_id == row.id)).all()
            numbers = self.session.exec(
                select(models.PhoneNumber.number).where(models.PhoneNumber.flow_id == row.id)
                .order_by(col(models.PhoneNumber.number))).all()
            published = [v.version for v in versions if v.status == models.FlowStatus.PUBLISHED]
            out.append(FlowSummary(
                name=row.name, description=row.description, versions=len(versions),
                latest=max((v.version for v in versions), default=0),
                published=published[0] if published else None, numbers=list(numbers)))
        return out

    # ------------------------------------------------------------ phone numbers

    def map_number(self, number: str, name: str, *, label: str = "") -> models.PhoneNumber:
        """Route calls to `number` (E.164) to flow `name`; replaces an existing mapping."""
        if not _E164.match(number):
            raise FlowStoreError(
                f"{number!r} is not an E.164 number; write it like +15551234567")
        row = self._flow_row(name)
        if row is None or row.id is None:
            raise FlowStoreError(f"no flow named {name!r}")
        existing = self.session.exec(
            select(models.PhoneNumber).where(models.PhoneNumber.number == number)).first()
        if existing is None:
            existing = models.PhoneNumber(number=number, flow_id=row.id, label=label[:200])
        else:
            existing.flow_id = row.id
            existing.label = label[:200] or existing.label
        self.session.add(existing)
        self.session.flush()
        return existing

    def unmap_number(self, number: str) -> bool:
        """Remove a number's mapping; False if it had none."""
        existing = self.session.exec(
            select(models.PhoneNumber).where(models.PhoneNumber.number == number)).first()
        if existing is None:
            return False
        self.session.delete(existing)
        self.session.flush()
        return True

    def flow_for_number(self, number: str) -> PublishedFlow | None:
        """The published flow that answers `number`, or None (unmapped or nothing published)."""
        row = self.session.exec(
            select(models.Flow).join(models.PhoneNumber).where(
                models.PhoneNumber.number == number)).first()
        return None if row is None else self.published(row.name)

    # ------------------------------------------------------------ helpers

    def _flow_row(self, name: str, *, lock: bool = False) -> models.Flow | None:
        query = select(models.Flow).where(models.Flow.name == name)
        if lock:
            # PostgreSQL: serialize publishers of one flow. SQLite ignores it (one writer anyway).
            query = query.with_for_update()
        return self.session.exec(query).first()

    def _version(self, row: models.Flow, version: int) -> models.FlowVersion:
        found = self.session.exec(
            select(models.FlowVersion).where(
                models.FlowVersion.flow_id == row.id, models.FlowVersion.version == version)
        ).first()
        if found is None:
            have = [v.version for v in self.versions(row.name)]
            raise FlowStoreError(f"{row.name!r} has no version {version} (versions: {have})")
        return found

    def flow_name(self, version: models.FlowVersion) -> str:
        """The name of the flow a version belongs to."""
        row = self.session.get(models.Flow, version.flow_id)
        assert row is not None
        return row.name
