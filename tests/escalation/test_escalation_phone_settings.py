"""PHONE_SUPERVISORS, SIP_OUTBOUND_TRUNK_ID and PHONE_RING_TIMEOUT_S: parsed into phone
supervisors, and every malformed value is one line naming the variable and the fix (with
the phone number masked: a settings error may be logged)."""

from __future__ import annotations

import pytest

from callcenter.config import SettingsError, load_settings
from callcenter.escalation.phone_config import parse_phone_supervisors
from callcenter.escalation.phone_desk import PhoneSupervisor
from callcenter.escalation.phone_service import PhoneDeskService

LIVEKIT = {"livekit_url": "wss://lk.example.test", "livekit_api_key": "APIx",
           "livekit_api_secret": "secret-0123456789"}


def test_entries_become_phone_supervisors_with_their_skills() -> None:
    got = parse_phone_supervisors(" ana=+14155550101 , bob=+14155550102@billing|spanish,")
    assert got == (
        PhoneSupervisor("phone-ana", "+14155550101", frozenset(), name="ana"),
        PhoneSupervisor("phone-bob", "+14155550102", frozenset({"billing", "spanish"}),
                        name="bob"),
    )
    assert parse_phone_supervisors("") == ()


@pytest.mark.parametrize(("value", "says"), [
    ("+14155559871", "needs the form id=+E164"),
    ("ana=4155559871", "is not an E.164 number"),
    ("ana=+1 415 555 9871", "is not an E.164 number"),
    ("ana=+14155559871@billing|", "an empty skill"),
    ("ana=+14155559871,ana=+14155559872", "ana listed twice"),
    ("an a=+14155559871", "needs the form id=+E164"),
])
def test_a_malformed_list_is_one_line_naming_the_variable(value: str, says: str) -> None:
    with pytest.raises(SettingsError) as err:
        load_settings(phone_supervisors=value, sip_outbound_trunk_id="ST_out", **LIVEKIT)
    text = str(err.value)
    assert "PHONE_SUPERVISORS:" in text and says in text and "\n" not in text
    assert "5559871" not in text and "5559872" not in text  # the number is masked


def test_phones_need_livekit_and_the_outbound_trunk() -> None:
    with pytest.raises(SettingsError, match="SIP_OUTBOUND_TRUNK_ID is missing"):
        load_settings(phone_supervisors="ana=+14155550101", **LIVEKIT)
    with pytest.raises(SettingsError, match="LIVEKIT_URL or SIP_OUTBOUND_TRUNK_ID"):
        load_settings(phone_supervisors="ana=+14155550101", sip_outbound_trunk_id="ST_out")
    with pytest.raises(SettingsError, match="PHONE_RING_TIMEOUT_S"):
        load_settings(phone_ring_timeout_s=0)


def test_no_phone_supervisors_runs_no_desk() -> None:
    settings = load_settings(**LIVEKIT)

    async def nowhere(_call_id: str) -> str | None:
        return None

    assert PhoneDeskService.from_settings(settings, object(), nowhere) is None  # type: ignore[arg-type]
    on = load_settings(phone_supervisors="ana=+14155550101", sip_outbound_trunk_id="ST_out",
                       **LIVEKIT)
    assert PhoneDeskService.from_settings(on, object(), nowhere) is not None  # type: ignore[arg-type]


def test_callcenter_api_says_at_start_whether_phones_will_be_rung(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from callcenter.cli.api import _console_note

    phones = {"phone_supervisors": "ana=+14155559871,bob=+14155559872",
              "sip_outbound_trunk_id": "ST_out", **LIVEKIT}
    with caplog.at_level("INFO"):
        _console_note(load_settings(**phones))
        _console_note(load_settings(redis_url="redis://127.0.0.1:6379/11", **phones))
    text = caplog.text
    assert "2 supervisor(s) nobody will ring" in text and "set REDIS_URL" in text
    assert "phone desk: 2 supervisor(s) by phone through trunk ST_out" in text
    assert "5559871" not in text  # numbers are not logged
