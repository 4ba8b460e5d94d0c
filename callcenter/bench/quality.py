"""`callcenter bench quality`: does the offline agent understand phone callers?

Labelled caller lines (`quality_set.yaml`) are spoken by synthetic voices over the phone
line with noise and pauses (`quality_audio`), cut into turns by the session's VAD and
endpointing rule, transcribed by Whisper tiny.en, and answered by the real flow runner on
a small flow (a menu, asks for digits, yes/no, a date and a time, a human-request
handler). Classification actions the runner emits are performed by `IntentService`, the
helper the one action interpreter uses. The result is what the flow did: the menu option
taken, the slot value stored, a reprompt, or a person asked for.

The parts of the set and their voices are in `quality_items` and `quality_voices`: the
held-out parts (v3, v4 and v4's hard-voice part) are new in phrasing and in voice, and
every part is reported per category and per voice family (natural or eSpeak "hard").

The recognizer is told what the node's `Listen` expects (digits, yes/no, menu phrases),
as the call session tells it, and the endpointing rule gets the same expectation. With
`baseline` the same lines are run again, in a subprocess, on the code of another commit
(this bench's own files laid over it), so a report shows the gain over that code.
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
import statistics
import subprocess
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from callcenter.bench.quality_audio import Segment, Transcriber, caller_audio, vad_segments
from callcenter.bench.quality_items import SPLITS, Item, family_of, load_items
from callcenter.bench.quality_voices import Synth, voice_named
from callcenter.callsession.effects import IntentService
from callcenter.flow.actions import Action, ClassifyIntent, Listen, RecordEvent
from callcenter.flow.events import CallStarted, Event, UserSaid
from callcenter.flow.runner import FlowRunner
from callcenter.flow.state import RunnerState
from callcenter.flow.validate import load_flow
from callcenter.voice import turns as _turns
from callcenter.voice.endpointing import endpoint_delay
from callcenter.voice.settings import EndpointingSettings


# What a reading the second tier took is worth to the flow (`callsession.second_hearing`);
# older code (the baseline run) gives none: its readings count as sure.
def _heard_again_confidence() -> float:
    try:
        module = importlib.import_module("callcenter.callsession.second_hearing")
    except ImportError:
        return 1.0
    return float(getattr(module, "HEARD_AGAIN_CONFIDENCE", 1.0))


HEARD_AGAIN_CONFIDENCE = _heard_again_confidence()
# Older code (the baseline run) reads no turn again: its turn is its segments' texts.
_wants_reading: Callable[[int], bool] | None = getattr(_turns, "wants_reading", None)
_turn_confidence: Callable[..., float] | None = getattr(_turns, "turn_confidence", None)

# The code before issue #14's recognizer and endpointing work: the "before" column.
BASELINE_REF = "58b913e"
# This bench's own files, laid over the baseline's tree so both runs measure alike.
_BENCH_FILES = ("quality.py", "quality_audio.py", "quality_items.py", "quality_voices.py",
                "quality_report.py", "quality_set.yaml")
START = {"menu": "menu", "human": "menu", "out_of_domain": "menu", "digits": "ask_digits",
         "yes_no": "ask_yes", "date": "ask_date", "time": "ask_time"}

FLOW_HEAD = """
name: quality_bench
start: {start}
handlers:
  human_request:
    phrases: [human, real person, representative, operator, talk to someone, speak to someone]
    say: Of course, let me get someone.
    goto: human
nodes:
  done: {{type: hangup, say: Thanks.}}
  human: {{type: hangup, say: Connecting you.}}
"""
# One node under test per flow (a flow with unreachable nodes does not validate).
NODES = {
    "menu": """
  menu:
    type: menu
    prompt: You can say order, billing, change address or cancel.
    slot: topic
    options:
      - {key: 1, value: order, goto: done,
         phrases: [order, order status, where is my order, package, delivery, tracking]}
      - {key: 2, value: billing, goto: done,
         phrases: [billing, bill, invoice, charge, payment, refund]}
      - {key: 3, value: address, goto: done,
         phrases: [address, change my address, new address, moving]}
      - {key: 4, value: cancel, goto: done,
         phrases: [cancel, cancel my subscription, close my account]}
""",
    "ask_digits": """
  ask_digits:
    type: ask
    slot: order_number
    prompt: What is your six digit order number?
    expect: digits
    min_length: 6
    max_length: 6
    next: done
""",
    "ask_yes": "  ask_yes: {type: ask, slot: ok, prompt: 'Right?', expect: yes_no, next: done}\n",
    "ask_date": "  ask_date: {type: ask, slot: day, prompt: 'Day?', expect: date, next: done}\n",
    "ask_time": "  ask_time: {type: ask, slot: at, prompt: 'Time?', expect: time, next: done}\n",
}


@dataclass(slots=True)
class Outcome:
    item: Item
    heard: str = ""
    got: Any = None
    turns: int = 0
    cut_off: bool = False  # the line was split into more than one turn
    endpoint_ms: float = 0.0
    stt_ms: float = 0.0
    understand_ms: float = 0.0
    segments: list[str] = field(default_factory=list)
    # The first turn read again as one utterance (a turn of several segments): its text,
    # and that decode's time (on top of the last segment's: `stt_ms` holds both).
    reading: str | None = None
    reading_ms: float | None = None
    # The turn the flow did not understand, heard again by the second tier (its text and
    # decode time, also in `stt_ms`), when that reading was understood.
    heard_again: str | None = None
    heard_again_ms: float | None = None
    # The confidence the flow was given with the turn, and whether it read the answer back
    # ("I heard 4 8 2 9 1 3. Is that right?"): the caller confirms a right reading, so a
    # read-back counts as its value; a wrong one read back is caught, not stored.
    confidence: float = 1.0
    read_back: bool = False

    @property
    def right(self) -> bool:
        return bool(self.got == self.item.expected) and not self.cut_off


class FlowJudge:
    """Runs the flow runner on a heard turn and says what the flow did with it."""

    def __init__(self, today: dt.date) -> None:
        self.now = dt.datetime.combine(today, dt.time(15, 0), tzinfo=dt.UTC)
        self.runners = {
            start: FlowRunner(load_flow(FLOW_HEAD.format(start=start) + NODES[start], "<q>"))
            for start in set(START.values())}
        self.intents = IntentService()
        self.intents.warm_up()

    def listen(self, category: str) -> Listen:
        """The Listen the node under test emits when the call reaches it."""
        runner = self.runners[START[category]]
        _, actions = runner.step(runner.new_state(), CallStarted(now=self.now))
        return next(a for a in actions if isinstance(a, Listen))

    def judge(self, category: str, text: str, confidence: float = 1.0) -> Any:
        return self.verdict(category, text, confidence)[0]

    def verdict(self, category: str, text: str, confidence: float = 1.0) -> tuple[Any, bool]:
        """What the flow did with the turn, and whether it read the value back first."""
        runner = self.runners[START[category]]
        state, actions = runner.step(runner.new_state(), CallStarted(now=self.now))
        said = UserSaid(text=text, now=self.now, confidence=confidence)
        state, actions = self._perform(runner, state, said)
        if "human" in state.path:
            return "human", False
        records = [a for a in actions if isinstance(a, RecordEvent)]
        for r in records:
            if r.event in ("slot_set", "readback"):
                return r.data.get("value"), r.event == "readback"
        return "reprompt", False

    def _perform(self, runner: FlowRunner, state: RunnerState,
                 event: Event) -> tuple[RunnerState, list[Action]]:
        # Only classification comes back as an event here; every other action is speech
        # or listening, which the bench does not need to carry out.
        log: list[Action] = []
        for _ in range(4):
            state, actions = runner.step(state, event)
            log += actions
            ask = next((a for a in actions if isinstance(a, ClassifyIntent)), None)
            if ask is None:
                break
            event = self.intents.classify(ask)
        return state, log


@dataclass(frozen=True, slots=True)
class Expects:
    """What the call session tells the voice session and recognizer while a node listens.

    Read from the node's Listen; fields the code under test does not have stay empty
    (the baseline run on older code).
    """

    digits: int | None = None
    yes_no: bool = False
    recognizer: Any = None  # speech.stt.expect.Expectation, on code that has it

    @classmethod
    def of(cls, listen: Listen) -> Expects:
        digits = getattr(listen, "expect_digits", None)
        yes_no = bool(getattr(listen, "expect_yes_no", False))
        try:
            from callcenter.speech.stt.expect import Expectation
        except ImportError:
            return cls(digits, yes_no)
        return cls(digits, yes_no, Expectation.of(
            digits=digits, yes_no=yes_no, phrases=listen.hints,
            kind=getattr(listen, "expect", None)))

    def delay(self, text: str, settings: EndpointingSettings) -> float:
        import inspect

        kw: dict[str, Any] = {"expected_digits": self.digits}
        if "yes_no" in inspect.signature(endpoint_delay).parameters:
            kw["yes_no"] = self.yes_no
        return endpoint_delay(text, settings, **kw)


def turns_of(segments: list[Segment], expects: Expects) -> list[list[Segment]]:
    """Group segments into turns as VoiceSession does (a gap under the delay bridges)."""
    settings = EndpointingSettings()
    turns: list[list[Segment]] = []
    current: list[Segment] = []
    for seg in segments:
        if current:
            text = " ".join(s.text for s in current if s.text)
            delay = expects.delay(text, settings)
            if seg.start_ms - current[-1].end_ms >= 1000.0 * delay:
                turns.append(current)
                current = []
        current.append(seg)
    if current:
        turns.append(current)
    return [t for t in turns if any(s.text for s in t)]


def run_item(item: Item, synth: Synth, stt: Transcriber, judge: FlowJudge,
             cache: Path) -> Outcome:
    audio = caller_audio(synth, voice_named(item.voice), item.text, item.snr_db, item.seed, cache)
    expects = Expects.of(judge.listen(item.category))
    segments = [stt.segment(audio, a, b, expects.recognizer) for a, b in vad_segments(audio)]
    out = Outcome(item, segments=[s.text for s in segments])
    turns = turns_of(segments, expects)
    out.turns = len(turns)
    out.cut_off = len(turns) > 1
    if not turns:
        out.got = "reprompt"  # nothing heard: the flow would ask again
        return out
    first = turns[0]
    # The endpointing judged the segments' texts; the turn's text is its reading if any.
    joined = " ".join(s.text for s in first if s.text)
    out.endpoint_ms = 1000.0 * expects.delay(joined, EndpointingSettings())
    out.stt_ms = first[-1].stt_ms
    out.heard = joined
    heard_segments = [s.confidence for s in first if s.text.strip()]
    reading_confidence = 1.0
    if _wants_reading is not None and _wants_reading(len(first)) and stt.reads_turns:
        read = stt.turn(audio, first, expects.recognizer)
        out.reading, out.reading_ms = read.text, read.stt_ms
        reading_confidence = read.confidence
        out.stt_ms += read.stt_ms  # after the last segment's FINAL: one more decode
        out.heard = _turns.turn_text([s.text for s in first], out.reading)
    # The turn's confidence as the voice session gives it (older code gives none: sure).
    if _turn_confidence is not None:
        out.confidence = _turn_confidence(heard_segments, out.reading, reading_confidence)
    began = time.perf_counter()
    out.got, out.read_back = judge.verdict(item.category, out.heard, out.confidence)
    if out.got == "reprompt" and getattr(stt, "second", None) is not None:
        # As the interpreter does (`callsession.second_hearing`): a turn not understood is
        # heard again by the second tier, and its reading is taken if it is understood.
        # Its readings are tried best first; the first the flow understands is taken.
        again = stt.hear_again(audio, first, expects.recognizer)
        out.stt_ms += again.stt_ms
        out.heard_again_ms = again.stt_ms
        confidence = min(out.confidence, HEARD_AGAIN_CONFIDENCE)
        for text in (again.text, *again.alternatives):
            got, read_back = (judge.verdict(item.category, text, confidence) if text
                              else ("reprompt", False))
            if got != "reprompt":
                out.got, out.heard_again, out.heard = got, text, text
                out.confidence, out.read_back = confidence, read_back
                break
    out.understand_ms = 1000.0 * (time.perf_counter() - began) - (out.heard_again_ms or 0.0)
    return out


def _pct(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def _p(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


def _part(part: list[Outcome]) -> dict[str, Any]:
    """Accuracy per category, cut-offs, human recall and false escalations of some lines."""
    cats: dict[str, Any] = {}
    for cat in dict.fromkeys(o.item.category for o in part):
        group = [o for o in part if o.item.category == cat]
        cats[cat] = {"n": len(group),
                     "accuracy_pct": _pct(sum(o.right for o in group), len(group)),
                     "cut_offs": sum(o.cut_off for o in group)}
        if cat == "digits":
            cats[cat]["exact_match_pct"] = cats[cat]["accuracy_pct"]
            cats[cat]["mid_number_cut_offs"] = cats[cat]["cut_offs"]
    human = [o for o in part if o.item.category == "human"]
    others = [o for o in part if o.item.category != "human"]
    valued = [o for o in part if o.got not in ("reprompt", "human")]
    return {
        "categories": cats,
        # Values the flow took: read back first (a wrong one is then caught by the caller's
        # "no") or stored as heard; a wrong value stored unread is the costly error.
        "read_back": sum(o.read_back for o in valued),
        "read_back_wrong": sum(o.read_back and o.got != o.item.expected for o in valued),
        "stored_wrong": sum(not o.read_back and o.got != o.item.expected for o in valued),
        "human_recall_pct": _pct(sum(o.got == "human" for o in human), len(human)),
        "false_escalation_pct": _pct(sum(o.got == "human" for o in others), len(others)),
        "overall_pct": _pct(sum(o.right for o in part), len(part)),
        "n": len(part),
    }


def summarize(outcomes: Iterable[Outcome]) -> dict[str, Any]:
    """Per split: per category, per voice family and per voice; then latency per turn."""
    outs = list(outcomes)
    report: dict[str, Any] = {}
    for split, role in SPLITS.items():
        part = [o for o in outs if o.item.split == split]
        if not part and split != "tuned":
            continue
        families = {fam: _part([o for o in part if family_of(o.item.voice) == fam])
                    for fam in dict.fromkeys(family_of(o.item.voice) for o in part)}
        voices = {name: _pct(sum(o.right for o in part if o.item.voice == name),
                             sum(o.item.voice == name for o in part))
                  for name in dict.fromkeys(o.item.voice for o in part)}
        report[split] = _part(part) | {"role": role, "families": families,
                                       "voices_overall_pct": voices}
    total = [o.endpoint_ms + o.stt_ms + o.understand_ms for o in outs if o.turns]
    report["latency_ms_per_turn"] = {
        "endpoint_wait_p50": _p([o.endpoint_ms for o in outs if o.turns], 0.5),
        "stt_p50": _p([o.stt_ms for o in outs if o.turns], 0.5),
        "understand_p50": _p([o.understand_ms for o in outs if o.turns], 0.5),
        "understand_p95": _p([o.understand_ms for o in outs if o.turns], 0.95),
        "total_p50": _p(total, 0.5),
        "total_mean": round(statistics.fmean(total), 1) if total else None,
    }
    again = [o.heard_again_ms for o in outs if o.heard_again_ms is not None]
    report["second_hearing"] = {"turns": len(again),
                                "taken": sum(o.heard_again is not None for o in outs),
                                "decode_ms_p50": _p(again, 0.5)}
    read = [o.reading_ms for o in outs if o.reading_ms is not None]
    report["turn_reading"] = {"turns": len(read), "decode_ms_p50": _p(read, 0.5),
                              "decode_ms_max": _p(read, 1.0)}
    return report


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, cwd=Path(__file__).parent, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


_DRIVER = """
import sys
from pathlib import Path
from callcenter.bench.quality import run_quality_bench, write_json
write_json(run_quality_bench(quick=sys.argv[2] == "1", cache=Path(sys.argv[3])), Path(sys.argv[1]))
"""


class BaselineError(RuntimeError):
    """The baseline commit could not be run (no git checkout, unknown ref, it crashed).

    `partial`: this run's own result, measured before the baseline was tried."""

    partial: dict[str, Any] | None = None


def export_code(ref: str, dest: Path) -> None:
    """Commit `ref`'s `callcenter/` package, extracted under `dest`."""
    import tarfile

    top = Path(__file__).resolve().parents[2]  # the checkout holding callcenter/
    try:
        # From the top of the checkout: a pathspec is relative to git's working directory.
        archive = subprocess.run(["git", "archive", "--format=tar", ref, "callcenter"],
                                 capture_output=True, cwd=top, timeout=60, check=True)
    except (OSError, subprocess.SubprocessError) as exc:
        err = getattr(exc, "stderr", b"") or b""
        raise BaselineError(
            f"cannot export commit {ref!r} for the baseline ({err.decode().strip() or exc}):"
            " run from a git checkout with that commit, or pass --baseline none") from exc
    tar_path = dest / "code.tar"
    tar_path.write_bytes(archive.stdout)
    with tarfile.open(tar_path) as tar:
        tar.extractall(dest, filter="data")
    tar_path.unlink()


def run_baseline(ref: str, *, quick: bool, cache: Path) -> dict[str, Any]:
    """This bench on the code of commit `ref`: its `callcenter/` with our bench files on top.

    Runs in a subprocess (one process cannot import two versions of a package); audio and
    transcripts without an expectation are shared with this run through `cache`.
    """
    import os
    import shutil
    import sys
    import tempfile

    here = Path(__file__).parent
    with tempfile.TemporaryDirectory(prefix="quality-baseline-") as tmp:
        root = Path(tmp)
        export_code(ref, root)
        for name in _BENCH_FILES:
            shutil.copy2(here / name, root / "callcenter" / "bench" / name)
        out = root / "baseline.json"
        env = {**os.environ, "PYTHONPATH": str(root)}
        done = subprocess.run(
            [sys.executable, "-c", _DRIVER, str(out), "1" if quick else "0", str(cache)],
            cwd=root, env=env, capture_output=True, text=True)
        if done.returncode != 0 or not out.exists():
            raise BaselineError(f"the baseline run on {ref} failed:\n{done.stderr[-2000:]}")
        result: dict[str, Any] = json.loads(out.read_text())
    result["code"] = ref
    return result


def run_quality_bench(*, quick: bool = False, cache: Path | None = None,
                      progress: Callable[[str], None] | None = None,
                      baseline: str | None = None) -> dict[str, Any]:
    """Speak, hear and judge every labelled line; the report (see `summarize`).

    `baseline`: a commit to run the same lines on as well, reported under "baseline".
    """
    if cache is None:
        from callcenter.config import get_settings

        cache = get_settings().data_dir / "bench_quality"
    cache = cache.resolve()
    items, today = load_items(quick=quick)
    synth, stt, judge = Synth(), Transcriber(cache), FlowJudge(today)
    outcomes: list[Outcome] = []
    began = time.perf_counter()
    for n, item in enumerate(items, 1):
        outcomes.append(run_item(item, synth, stt, judge, cache))
        if progress and n % 25 == 0:
            progress(f"{n}/{len(items)} lines")
            stt.save()
    stt.save()
    result = summarize(outcomes)
    result |= {"quick": quick, "code": _commit(), "lines": len(items),
               "seconds": round(time.perf_counter() - began, 1),
               "intents_backend": judge.intents.backend,
               "items": [asdict(o.item) | {"heard": o.heard, "got": o.got, "right": o.right,
                                           "turns": o.turns, "segments": o.segments,
                                           "reading": o.reading,
                                           "heard_again": o.heard_again,
                                           "confidence": round(o.confidence, 3),
                                           "read_back": o.read_back}
                         for o in outcomes]}
    if baseline:
        if progress:
            progress(f"the same lines on the baseline code ({baseline})")
        try:
            base = run_baseline(baseline, quick=quick, cache=cache)
        except BaselineError as exc:
            exc.partial = result  # this run's figures are still worth writing
            raise
        result["baseline"] = {k: base[k] for k in ("code", *SPLITS, "latency_ms_per_turn")
                              if k in base}
        result["baseline_items"] = base.get("items", [])
    return result


def write_json(result: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(result, indent=2, default=str))
