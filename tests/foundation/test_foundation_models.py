"""Database rules the admin relies on hold in the database itself, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from callcenter.models import Call, Flow, FlowStatus, FlowVersion, Utterance


def _two_published_versions(engine: Engine) -> None:
    with Session(engine) as s:
        flow = Flow(name="support")
        s.add(flow)
        s.flush()
        assert flow.id is not None
        s.add(FlowVersion(flow_id=flow.id, version=1, yaml_text="a", status=FlowStatus.PUBLISHED))
        s.add(FlowVersion(flow_id=flow.id, version=2, yaml_text="b", status=FlowStatus.DRAFT))
        s.commit()
        s.add(FlowVersion(flow_id=flow.id, version=3, yaml_text="c", status=FlowStatus.PUBLISHED))
        with pytest.raises(sa.exc.IntegrityError):
            s.commit()


def test_sqlite_allows_only_one_published_version_per_flow(sqlite_engine: Engine) -> None:
    _two_published_versions(sqlite_engine)


def test_postgres_allows_only_one_published_version_per_flow(pg_engine: Engine) -> None:
    _two_published_versions(pg_engine)


def _utterances_round_trip(engine: Engine) -> None:
    with Session(engine) as s:
        call = Call(room_name="call-abc", caller_number="+15550100", dialed_number="+15550199")
        s.add(call)
        s.flush()
        s.add(
            Utterance(
                call_id=call.id, seq=0, speaker_role="agent", text="Hello, how can I help you?",
                start_ms=0, end_ms=1800, interrupted=True, heard_text="Hello, how",
            )
        )
        call.metrics = {"turns": [{"e2e_ms": 640}]}
        s.commit()
        got = s.exec(select(Utterance).where(Utterance.call_id == call.id)).one()
        assert got.heard_text == "Hello, how" and got.interrupted
        assert s.get(Call, call.id).metrics == {"turns": [{"e2e_ms": 640}]}  # type: ignore[union-attr]
        s.add(Utterance(call_id=call.id, seq=0, speaker_role="caller", text="dup", start_ms=0,
                        end_ms=1))
        with pytest.raises(sa.exc.IntegrityError):
            s.commit()


def test_sqlite_stores_utterances_once_per_sequence_number(sqlite_engine: Engine) -> None:
    _utterances_round_trip(sqlite_engine)


def test_postgres_stores_utterances_once_per_sequence_number(pg_engine: Engine) -> None:
    _utterances_round_trip(pg_engine)
