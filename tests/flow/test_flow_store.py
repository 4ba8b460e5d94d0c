"""Flow versions in the database: drafts, atomic publish, rollback, number mapping."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from callcenter import models
from callcenter.flow.problems import FlowValidationError
from callcenter.flowstore import FlowStore, FlowStoreError

FLOWS = Path(__file__).resolve().parents[2] / "flows"
SUPPORT = (FLOWS / "customer_support.yaml").read_text()


def _published(session: Session) -> list[tuple[str, int]]:
    rows = session.exec(select(models.Flow.name, models.FlowVersion.version).join(
        models.FlowVersion).where(models.FlowVersion.status == models.FlowStatus.PUBLISHED))
    return sorted((name, version) for name, version in rows)


def _publish_rollback_and_numbers(engine: Engine) -> None:
    with Session(engine) as s:
        store = FlowStore(s)
        v1 = store.publish_text(SUPPORT, author="ann")
        v2 = store.save_draft(SUPPORT.replace("Acme Outfitters", "Acme Boots"), note="rename")
        s.commit()
        assert (v1.version, v1.status, v2.version, v2.status) == (1, "published", 2, "draft")
        store.publish("customer_support", 2)
        s.commit()
        assert _published(s) == [("customer_support", 2)]
        statuses = {v.version: v.status for v in store.versions("customer_support")}
        assert statuses == {1: "archived", 2: "published"}
        current = store.published("customer_support")
        assert current is not None and current.flow.variables["company"] == "Acme Boots"
        store.rollback("customer_support", 1)
        s.commit()
        assert _published(s) == [("customer_support", 1)]
        with pytest.raises(FlowStoreError, match="not earlier"):
            store.rollback("customer_support", 2)
        with pytest.raises(FlowStoreError, match="has no version 9"):
            store.publish("customer_support", 9)
        store.map_number("+15550002222", "customer_support", label="main line")
        s.commit()
        found = store.flow_for_number("+15550002222")
        assert found is not None and found.version.version == 1
        assert store.flow_for_number("+15559999999") is None
        (summary,) = store.list_flows()
        assert (summary.versions, summary.latest, summary.published, summary.numbers) == (
            2, 2, 1, ["+15550002222"])
        with pytest.raises(FlowStoreError, match=r"E\.164"):
            store.map_number("5550002222", "customer_support")


def test_publish_rollback_and_number_mapping_on_sqlite(sqlite_engine: Engine) -> None:
    _publish_rollback_and_numbers(sqlite_engine)


@pytest.mark.postgres
def test_publish_rollback_and_number_mapping_on_postgres(pg_engine: Engine) -> None:
    _publish_rollback_and_numbers(pg_engine)


def test_invalid_yaml_is_never_stored(sqlite_engine: Engine) -> None:
    with Session(sqlite_engine) as s:
        with pytest.raises(FlowValidationError) as info:
            FlowStore(s).save_draft(SUPPORT.replace("goto: say_shipped", "goto: say_shiped"))
        assert "did you mean 'say_shipped'?" in str(info.value)
        assert s.exec(select(models.FlowVersion)).all() == []


def test_failed_publish_leaves_the_old_version_published(sqlite_engine: Engine) -> None:
    with Session(sqlite_engine) as s:
        store = FlowStore(s)
        store.publish_text(SUPPORT)
        draft = store.save_draft(SUPPORT)
        # A stored version that no longer validates (e.g. edited in the DB) must not go live.
        draft.yaml_text = "name: customer_support\nstart: nowhere\nnodes: {}\n"
        s.add(draft)
        s.commit()
        with pytest.raises(FlowValidationError):
            store.publish("customer_support", 2)
        s.rollback()
        assert _published(s) == [("customer_support", 1)]
