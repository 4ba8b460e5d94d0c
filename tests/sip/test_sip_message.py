"""SIP message parsing and serialising: what a dev UAS must read from real peers."""

from __future__ import annotations

import pytest

from callcenter.rooms.sip.address import parse_address, parse_uri, parse_via, split_values
from callcenter.rooms.sip.dialog import response_for
from callcenter.rooms.sip.message import (
    Headers,
    SipParseError,
    SipRequest,
    SipResponse,
    canonical,
    parse_message,
)

INVITE = (
    "INVITE sip:+15550001000@127.0.0.1:5060 SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK776asdhds;rport\r\n"
    "Max-Forwards: 70\r\n"
    'From: "Jane Doe" <sip:+15550001111@127.0.0.1:5061>;tag=1928301774\r\n'
    "To: <sip:+15550001000@127.0.0.1>\r\n"
    "Call-ID: a84b4c76e66710@127.0.0.1\r\n"
    "CSeq: 314159 INVITE\r\n"
    "Contact: <sip:+15550001111@127.0.0.1:5061>\r\n"
    "Content-Type: application/sdp\r\n"
    "Content-Length: 4\r\n"
    "\r\n"
    "v=0\r\nextra bytes past Content-Length"
)


def test_a_request_parses_with_its_headers_and_body_cut_at_content_length() -> None:
    msg = parse_message(INVITE.encode())
    assert isinstance(msg, SipRequest)
    assert (msg.method, msg.uri) == ("INVITE", "sip:+15550001000@127.0.0.1:5060")
    assert msg.call_id == "a84b4c76e66710@127.0.0.1"
    assert msg.cseq == (314159, "INVITE")
    assert msg.body == b"v=0\r"


def test_header_names_are_case_insensitive_and_compact_forms_expand() -> None:
    compact = (
        "OPTIONS sip:127.0.0.1 SIP/2.0\r\n"
        "v: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKx\r\n"
        "f: <sip:a@10.0.0.1>;tag=1\r\n"
        "t: <sip:b@127.0.0.1>\r\n"
        "i: call-1\r\n"
        "m: <sip:a@10.0.0.1>\r\n"
        "cseq: 1 OPTIONS\r\n"
        "l: 0\r\n\r\n"
    )
    msg = parse_message(compact.encode())
    assert msg.headers.get("VIA") == "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKx"
    assert msg.headers.get("call-id") == "call-1"
    assert msg.headers.get("Contact") == "<sip:a@10.0.0.1>"
    assert msg.headers.get("From") == "<sip:a@10.0.0.1>;tag=1"
    assert [k for k, _ in msg.headers][:4] == ["Via", "From", "To", "Call-ID"]
    assert canonical("cseq") == "CSeq" and canonical("l") == "Content-Length"


def test_folded_header_lines_and_bare_lf_line_ends_are_read() -> None:
    text = INVITE.replace("Max-Forwards: 70\r\n", "Subject: a\r\n  folded line\r\n")
    msg = parse_message(text.replace("\r\n", "\n").encode())
    assert msg.headers.get("Subject") == "a folded line"
    assert msg.body == b"v=0\n"


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (("Content-Length: 4", "Content-Length: 999"), "Content-Length 999"),
        (("Content-Length: 4", "Content-Length: four"), "bad Content-Length"),
        (("CSeq: 314159 INVITE", "CSeq: x INVITE"), "bad CSeq"),
        (("CSeq: 314159 INVITE", "CSeq: 1 BYE"), "does not match"),
        (("Call-ID: a84b4c76e66710@127.0.0.1\r\n", ""), "missing Call-ID"),
        (("Max-Forwards: 70", "no colon here"), "bad header line"),
    ],
)
def test_malformed_requests_raise_with_enough_parsed_to_answer_400(
    change: tuple[str, str], why: str
) -> None:
    with pytest.raises(SipParseError, match=why) as info:
        parse_message(INVITE.replace(*change).encode())
    assert info.value.partial is not None  # a 400 can be sent back
    resp = response_for(info.value.partial, 400, f"Bad Request ({info.value.why})")
    assert resp.headers.get("Via") == "SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK776asdhds;rport"


def test_garbage_and_a_missing_via_give_nothing_to_answer() -> None:
    for data in (b"\x00\xffhello", b"HELLO\r\n\r\n", INVITE.replace("Via", "Xia").encode()):
        with pytest.raises(SipParseError) as info:
            parse_message(data)
        assert info.value.partial is None


def test_serialising_recomputes_content_length_and_round_trips() -> None:
    h = Headers([("v", "SIP/2.0/UDP h;branch=z9hG4bK1"), ("Content-Length", "77")])
    resp = SipResponse(h, b"hello", 200, "OK")
    data = resp.to_bytes()
    assert data.startswith(b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n")
    assert b"Content-Length: 5\r\n\r\nhello" in data and b"77" not in data
    back = parse_message(data)
    assert isinstance(back, SipResponse) and back.status == 200 and back.body == b"hello"


def test_a_response_copies_the_dialog_headers_adds_a_to_tag_and_stamps_rport() -> None:
    req = parse_message(INVITE.encode())
    assert isinstance(req, SipRequest)
    resp = response_for(req, 180, to_tag="abc", source=("192.0.2.9", 40000))
    assert resp.headers.get("To") == "<sip:+15550001000@127.0.0.1>;tag=abc"
    via = resp.headers.get("Via") or ""
    assert "rport=40000" in via and "received=192.0.2.9" in via
    assert resp.headers.get("CSeq") == "314159 INVITE"
    trying = response_for(req, 100, to_tag="abc")
    assert trying.headers.get("To") == "<sip:+15550001000@127.0.0.1>"  # 100 has no tag


def test_addresses_uris_and_via_values() -> None:
    a = parse_address('"Jane \\"JD\\" Doe" <sip:+1555@host:5070;transport=udp>;tag=xy')
    assert (a.display, a.uri.user, a.uri.host, a.uri.port, a.tag) == (
        'Jane \\"JD\\" Doe', "+1555", "host", 5070, "xy")
    assert a.uri.params == {"transport": "udp"}
    bare = parse_address("sip:bob@example.com;tag=77")
    assert bare.tag == "77" and bare.uri.params == {}  # addr-spec: params are the header's
    assert parse_uri("tel:+15550001000").user == "+15550001000"
    assert parse_uri("sip:[::1]:5062").host == "::1" and parse_uri("sip:[::1]:5062").port == 5062
    assert str(parse_uri("sip:u@h:5")) == "sip:u@h:5"
    via = parse_via("SIP/2.0/UDP 10.0.0.1:5062;branch=z9hG4bKa;rport, SIP/2.0/UDP p;branch=b")
    assert (via.transport, via.host, via.port, via.branch) == ("UDP", "10.0.0.1", 5062,
                                                               "z9hG4bKa")
    assert split_values('"a, b" <sip:x>, <sip:y,z>') == ['"a, b" <sip:x>', "<sip:y,z>"]
