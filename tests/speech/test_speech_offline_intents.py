"""MiniLM intent classifier: encoder correctness, classification, no-match, speed."""

import time

import numpy as np
import pytest

from callcenter.audio.frame import AudioFrame
from callcenter.audio.phone import phone_channel
from callcenter.speech.offline.intents import IntentClassifier, load_encoder
from callcenter.speech.offline.piper import PiperOptions, PiperTTS
from callcenter.speech.offline.whisper import WhisperSTT

EXAMPLES = {
    "order_status": ["where is my order", "check my order status", "has my package shipped"],
    "agent": [
        "talk to a person",
        "I want a human",
        "put me through to an agent",
        "can I speak to a representative",
    ],
    "billing": ["question about my bill", "I was charged twice", "why is my invoice so high"],
    "address": [
        "change my delivery address",
        "I moved and need to update my address",
        "ship it to a different address",
    ],
    "cancel": ["cancel my subscription", "I want to close my account"],
}
UTTERANCES = [
    ("I'd like to know when my parcel will arrive", "order_status"),
    ("can you tell me if the order went out yet", "order_status"),
    ("let me speak with a real person please", "agent"),
    ("get me someone from customer service", "agent"),
    ("there's a charge on my card I don't recognize", "billing"),
    ("my bill is wrong", "billing"),
    ("I need to update where you ship things", "address"),
    ("please send it to my new house instead", "address"),
    ("stop my membership", "cancel"),
    ("I don't want the service anymore, shut it down", "cancel"),
]


@pytest.fixture(scope="module")
def clf() -> IntentClassifier:
    return IntentClassifier(EXAMPLES, threshold=0.35)


def test_encoder_reproduces_published_model_similarities() -> None:
    # Reference cosine similarities for all-MiniLM-L6-v2 from the sentence-transformers
    # quickstart (computed there with torch): a wrong layer, GELU or pooling breaks these.
    e = load_encoder().encode(
        ["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."]
    )
    sims = e @ e.T
    assert sims[0, 1] == pytest.approx(0.6660, abs=2e-3)
    assert sims[0, 2] == pytest.approx(0.1046, abs=2e-3)
    assert sims[1, 2] == pytest.approx(0.1411, abs=2e-3)


def test_embeddings_are_unit_length_and_independent_of_batch_padding() -> None:
    enc = load_encoder()
    texts = ["hi", "a much longer sentence that forces padding of the short one in a batch"]
    batch = enc.encode(texts)
    single = np.stack([enc.encode([t])[0] for t in texts])
    assert batch.shape == (2, 384)
    assert np.allclose(np.linalg.norm(batch, axis=1), 1.0, atol=1e-5)
    assert np.abs(batch - single).max() < 1e-5


def test_paraphrases_score_higher_than_unrelated_sentences() -> None:
    a, b, c = load_encoder().encode(
        ["I want to talk to a human", "connect me with a real person", "what's the weather"]
    )
    assert a @ b > 0.4 > 0.2 > a @ c


def test_classifies_unseen_paraphrases(clf: IntentClassifier) -> None:
    got = [clf.classify(text)[0] for text, _ in UTTERANCES]
    right = sum(g == want for g, (_, want) in zip(got, UTTERANCES, strict=True))
    assert right >= 8, list(zip(got, UTTERANCES, strict=True))


def test_out_of_domain_speech_is_no_match(clf: IntentClassifier) -> None:
    for text in ["what a lovely day for a picnic", "the cat sat on the mat", "I like turtles", ""]:
        intent, confidence = clf.classify(text)
        assert intent is None and confidence < clf.threshold, (text, confidence)


def test_classifying_an_utterance_takes_milliseconds(clf: IntentClassifier) -> None:
    clf.classify("warm up")
    start = time.perf_counter()
    for text, _ in UTTERANCES:
        clf.classify(text)
    assert (time.perf_counter() - start) / len(UTTERANCES) < 0.1


async def test_whisper_transcripts_of_phone_audio_classify_correctly(
    clf: IntentClassifier,
) -> None:
    tts, stt = PiperTTS(options=PiperOptions(deterministic=True)), WhisperSTT()
    said = [UTTERANCES[i] for i in (0, 2, 5, 6, 8)]
    right = 0
    for text, want in said:
        audio = phone_channel(
            AudioFrame(tts.synthesize_clause(text).samples, 16000), output_rate=16000
        )
        transcript = await stt.run(audio.samples, 0.0)
        right += clf.classify(transcript.text)[0] == want
    assert right >= 4


def test_bad_configuration_is_refused_with_what_to_fix() -> None:
    with pytest.raises(ValueError, match="intents without examples: agent"):
        IntentClassifier({"billing": ["my bill"], "agent": []})
    with pytest.raises(ValueError, match="threshold"):
        IntentClassifier({"billing": ["my bill"]}, threshold=1.5)
