"""Flows in the database: versions, publishing, rollback and the phone-number mapping.

Every version is validated before it is stored. A flow has at most one published version;
publishing archives the old one and publishes the new one in one transaction (the database's
partial unique index backs this up under concurrency). Rollback republishes an earlier
version as it was. SQL stays here; `callcenter.flow` knows nothing of the database.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from callcenter import models
from callcenter.accounts.audit import Actor, actor_label, audit
from callcenter.flow.schema import Flow
from callcenter.flow.validate import load_flow

_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
# What people type around the digits of a phone number: dropped before checking E.164.
_NUMBER_PUNCTUATION = re.compile(r"[\s().\-/]")


class FlowStoreError(ValueError):
    """A store operation cannot be done; the message says why and what to do."""


class InvalidNumber(FlowStoreError):
    """Not a phone number in E.164 form, even after dropping spaces and dashes."""


class NumberConflict(FlowStoreError):
    """The number already routes to another flow and the caller did not ask to move it."""

    def __init__(self, number: str, current_flow: str, wanted_flow: str) -> None:
        super().__init__(
            f"{number} already answers with flow {current_flow!r}; mapping it to "
            f"{wanted_flow!r} moves it (confirm to replace)")
        self.number = number
        self.current_flow = current_flow
        self.wanted_flow = wanted_flow


@dataclass(frozen=True, slots=True)
class FlowSummary:
    """One row of `flows list` and of the admin's flow list."""

    name: str
    description: str
    versions: int
    latest: int
    published: int | None
    numbers: list[str]
    drafts: int = 0  # draft versions newer than the published one
    last_edit: datetime | None = None
    last_author: str = ""
    calls_24h: int = 0


@dataclass(frozen=True, slots=True)
class NumberMapping:
    """One phone number, the flow it routes to and that flow's published version."""

    number: str
    label: str
    flow: str
    published: int | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class DiffLine:
    """One line of a unified diff: kind is context, add, remove or hunk."""

    kind: str
    text: str


@dataclass(frozen=True, slots=True)
class PublishedFlow:
    """What a call needs: the validated flow and the version row it came from."""

    flow: Flow
    version: models.FlowVersion


class FlowStore:
    """Flow operations on one session; the caller owns the transaction (`db.session_scope`)."""

    def __init__(self, session: Session, actor: Actor = None) -> None:
        self.session = session
        # Who acts: every draft, publish, rollback and number change is audited in their name.
        self.actor = actor

    def _author(self, author: str) -> str:
        return author or (actor_label(self.actor)[1] if self.actor is not None else "")

    # ------------------------------------------------------------ versions

    def save_draft(self, yaml_text: str, *, author: str = "", note: str = "",
                   file: str = "<flow>", expect_name: str | None = None) -> models.FlowVersion:
        """Validate and store YAML as the next draft version of its flow (created if new).

        With `expect_name`, YAML naming another flow is refused (an editor open on one flow
        must not quietly write to another).
        """
        parsed = load_flow(yaml_text, file)  # raises FlowValidationError with every problem
        if expect_name is not None and parsed.name != expect_name:
            raise FlowStoreError(
                f"this text names flow {parsed.name!r} but you are editing {expect_name!r}: "
                f"set `name: {expect_name}` again, or create a new flow for {parsed.name!r}")
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
            status=models.FlowStatus.DRAFT, author=self._author(author)[:200], note=note[:500])
        self.session.add(version)
        self.session.flush()
        audit(self.session, self.actor, "flow.draft", f"flow:{parsed.name} v{version.version}",
              {"flow": parsed.name, "version": version.version, "note": note[:500]})
        return version

    def publish(self, name: str, version: int) -> models.FlowVersion:
        """Make `version` the published one; the previously published version is archived."""
        before = self.published_version(name)
        target = self._publish(name, version)
        if before is None or before.id != target.id:
            self._audit_publish("flow.publish", name, target, before)
        return target

    def _audit_publish(self, action: str, name: str, target: models.FlowVersion,
                       before: models.FlowVersion | None) -> None:
        audit(self.session, self.actor, action, f"flow:{name} v{target.version}",
              {"flow": name, "version": target.version,
               "previous": before.version if before is not None else None})

    def _publish(self, name: str, version: int) -> models.FlowVersion:
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
        published = self.published_version(name)
        if published is not None and version >= published.version:
            raise FlowStoreError(
                f"{name!r} v{version} is not earlier than the published v"
                f"{published.version}; use `flows publish` to go forward")
        target = self._publish(name, version)
        self._audit_publish("flow.rollback", name, target, published)
        return target

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

    def published_version(self, name: str) -> models.FlowVersion | None:
        """The published version row of a flow, not re-validated (for display)."""
        return self.session.exec(
            select(models.FlowVersion).join(models.Flow).where(
                models.Flow.name == name,
                models.FlowVersion.status == models.FlowStatus.PUBLISHED)
        ).first()

    def version(self, name: str, version: int) -> models.FlowVersion:
        """One version of a flow; FlowStoreError if the flow or the version does not exist."""
        row = self._flow_row(name)
        if row is None:
            raise FlowStoreError(f"no flow named {name!r}")
        return self._version(row, version)

    def latest_version(self, name: str) -> models.FlowVersion | None:
        """The newest version of a flow (what the editor opens), or None if it has none."""
        return self.session.exec(
            select(models.FlowVersion).join(models.Flow).where(models.Flow.name == name)
            .order_by(col(models.FlowVersion.version).desc())
        ).first()

    def list_flows(self, *, now: datetime | None = None) -> list[FlowSummary]:
        """Every flow with its versions, drafts, numbers, last edit and calls in the last 24 h."""
        since = (now or models.utcnow()) - timedelta(hours=24)
        # One grouped query for the call counts rather than one per flow.
        calls = dict(self.session.exec(
            select(models.FlowVersion.flow_id, func.count(col(models.Call.id)))
            .join(models.Call, col(models.Call.flow_version_id) == col(models.FlowVersion.id))
            .where(col(models.Call.started_at) >= since)
            .group_by(col(models.FlowVersion.flow_id))).all())
        out: list[FlowSummary] = []
        for row in self.session.exec(select(models.Flow).order_by(col(models.Flow.name))):
            versions = list(self.session.exec(
                select(models.FlowVersion).where(models.FlowVersion.flow_id == row.id)
                .order_by(col(models.FlowVersion.version))).all())
            numbers = self.session.exec(
                select(models.PhoneNumber.number).where(models.PhoneNumber.flow_id == row.id)
                .order_by(col(models.PhoneNumber.number))).all()
            published = [v.version for v in versions if v.status == models.FlowStatus.PUBLISHED]
            current = published[0] if published else 0
            drafts = [v for v in versions
                      if v.status == models.FlowStatus.DRAFT and v.version > current]
            last = versions[-1] if versions else None
            out.append(FlowSummary(
                name=row.name, description=row.description, versions=len(versions),
                latest=last.version if last else 0,
                published=published[0] if published else None, numbers=list(numbers),
                drafts=len(drafts), last_edit=last.created_at if last else None,
                last_author=last.author if last else "", calls_24h=int(calls.get(row.id or 0, 0))))
        return out

    # ------------------------------------------------------------ phone numbers

    def map_number(self, number: str, name: str, *, label: str = "",
                   replace: bool = True) -> models.PhoneNumber:
        """Route calls to `number` (E.164) to flow `name`.

        An existing mapping to another flow is moved when `replace`, else NumberConflict.
        """
        number = normalize_number(number)
        row = self._flow_row(name)
        if row is None or row.id is None:
            raise FlowStoreError(f"no flow named {name!r}")
        existing = self.session.exec(
            select(models.PhoneNumber).where(models.PhoneNumber.number == number)).first()
        previous: str | None = None
        if existing is None:
            existing = models.PhoneNumber(number=number, flow_id=row.id, label=label[:200])
        else:
            if existing.flow_id != row.id:
                old = self.session.get(models.Flow, existing.flow_id)
                previous = old.name if old is not None else None
                if not replace:
                    raise NumberConflict(number, previous or "?", name)
            existing.flow_id = row.id
            existing.label = label[:200] or existing.label
        self.session.add(existing)
        self.session.flush()
        audit(self.session, self.actor, "number.map", f"number:{number}",
              {"number": number, "flow": name, "previous_flow": previous,
               "label": existing.label})
        return existing

    def unmap_number(self, number: str) -> bool:
        """Remove a number's mapping; False if it had none."""
        existing = self.session.exec(
            select(models.PhoneNumber).where(models.PhoneNumber.number == number)).first()
        if existing is None:
            return False
        old = self.session.get(models.Flow, existing.flow_id)
        self.session.delete(existing)
        self.session.flush()
        audit(self.session, self.actor, "number.unmap", f"number:{number}",
              {"number": number, "flow": old.name if old is not None else None})
        return True

    def list_numbers(self) -> list[NumberMapping]:
        """Every mapped number with its flow and that flow's published version."""
        published = (
            select(models.FlowVersion.flow_id, models.FlowVersion.version)
            .where(models.FlowVersion.status == models.FlowStatus.PUBLISHED).subquery())
        rows = self.session.exec(
            select(models.PhoneNumber, models.Flow.name, published.c.version)
            .join(models.Flow, col(models.Flow.id) == col(models.PhoneNumber.flow_id))
            .outerjoin(published, published.c.flow_id == col(models.Flow.id))
            .order_by(col(models.PhoneNumber.number))).all()
        return [NumberMapping(number=n.number, label=n.label, flow=flow, published=version,
                              created_at=n.created_at) for n, flow, version in rows]

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


def normalize_number(text: str) -> str:
    """`+1 (555) 123-4567` -> `+15551234567`; FlowStoreError unless the result is E.164."""
    number = _NUMBER_PUNCTUATION.sub("", text.strip())
    if number.startswith("00"):
        number = "+" + number[2:]  # the international prefix many countries dial
    if not _E164.match(number):
        raise InvalidNumber(
            f"{text.strip()!r} is not an E.164 number; write it like +15551234567 "
            "(a plus, the country code, then the number, 8 to 15 digits in all)")
    return number


def diff_versions(old: str, new: str, old_label: str, new_label: str) -> list[DiffLine]:
    """A unified diff of two flow texts, as typed lines the pages colour and the API returns."""
    out: list[DiffLine] = []
    lines = difflib.unified_diff(old.splitlines(), new.splitlines(), old_label, new_label,
                                 lineterm="", n=3)
    # The first two lines are the ---/+++ file headers; a removed YAML line may start "--".
    for i, raw in enumerate(lines):
        if i < 2:
            continue
        kind = {"@": "hunk", "+": "add", "-": "remove"}.get(raw[:1], "context")
        out.append(DiffLine(kind, raw if kind == "hunk" else raw[1:]))
    return out
