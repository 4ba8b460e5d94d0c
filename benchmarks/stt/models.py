"""Which offline recognizer pays on the quality set: Whisper models and constrained decoding.

Two phases, so the slow one runs once and choice rules can be compared cheaply:

  python benchmarks/stt/models.py decode --model tiny.en   # and --model base (parallel ok)
  python benchmarks/stt/models.py evaluate --json OUT

`decode` speaks every line of `callcenter bench quality`'s set (its audio cache, its voices,
its VAD cut) and, per speech segment, stores the production `WhisperSTT` reading for that
model (told what the node expects, as the bench does) and, where the node waits for a
closed answer (digits, yes/no), the constrained reading (`speech.offline.constrain`), with
the milliseconds each took. `evaluate` rebuilds the turns, lets the real flow judge them
and prints, per candidate, per part and category: accuracy, human recall, false
escalations, and STT ms per segment (p50/p95, what it cost on this machine then: say
whether it was loaded). Tune on the tuning parts; v3 is held out.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import math
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np


def _freeze_bench(ref: str) -> None:
    """Import the quality bench as committed at `ref`, not as it is in the work tree.

    Others edit the bench while this runs; a frozen copy keeps the set, voices and cut the
    same from the decode phase to the evaluate phase. Set STT_BENCH_REF=worktree to skip.
    """
    import importlib.util
    import subprocess
    import tempfile

    top = Path(__file__).resolve().parents[2]
    tmp = Path(tempfile.mkdtemp(prefix="stt-bench-"))
    for name in ("quality_audio.py", "quality.py", "quality_set.yaml"):
        body = subprocess.run(["git", "show", f"{ref}:callcenter/bench/{name}"], cwd=top,
                              check=True, capture_output=True).stdout
        (tmp / name).write_bytes(body)
    for mod in ("quality_audio", "quality"):
        spec = importlib.util.spec_from_file_location(f"callcenter.bench.{mod}", tmp / f"{mod}.py")
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)


if os.environ.get("STT_BENCH_REF", "HEAD") != "worktree":
    _freeze_bench(os.environ.get("STT_BENCH_REF", "HEAD"))

from callcenter.bench.quality import (  # noqa: E402
    SPLITS,
    Expects,
    FlowJudge,
    Item,
    _voice,
    load_items,
    turns_of,
)
from callcenter.bench.quality_audio import (  # noqa: E402
    RATE,
    Segment,
    Synth,
    caller_audio,
    vad_segments,
)
from callcenter.bench.quality_audio import (  # noqa: E402
    _key as audio_key,
)
from callcenter.config import get_settings  # noqa: E402
from callcenter.speech.offline.constrain import (  # noqa: E402
    Constrained,
    ConstrainedChoice,
    choose,
    constrained_decode,
    wants_constrained,
)
from callcenter.speech.offline.whisper import WhisperOptions, WhisperSTT, load_whisper_model  # noqa: E402

CACHE = get_settings().data_dir / "bench_quality"
OUT_DIR = get_settings().data_dir / "bench_stt"


def _closed_kind(expect: Any) -> str | None:
    if expect is None:
        return None
    if expect.digits:
        return "digits"
    return "yes_no" if expect.yes_no else None


def _key(chunk: np.ndarray, expect: Any) -> str:
    return hashlib.sha256(chunk.tobytes() + repr(expect).encode()).hexdigest()[:24]


def decode(model: str, limit: int | None, every: int = 1, first: int = 0) -> None:
    """Phase 1: every segment's readings for `model`, cached in OUT_DIR/<model>[-from].json."""
    path = OUT_DIR / (f"{model}.json" if not first else f"{model}-from{first}.json")
    memo: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    stt = WhisperSTT(WhisperOptions(model=model, constrained=False))  # the open reading
    stt.warm_up()
    items, today = load_items()
    judge = FlowJudge(today)
    synth = Synth()
    for n, item in enumerate(items[:limit], 1):
        if n <= first or (n - 1) % every:
            continue  # a sample of the set (a slow model on a loaded machine)
        audio = caller_audio(synth, _voice(item.voice), item.text, item.snr_db, item.seed,
                             CACHE)
        expect = Expects.of(judge.listen(item.category)).recognizer
        kind = _closed_kind(expect)
        for a, b in vad_segments(audio):
            lo, hi = int(a * RATE / 1000), int((b + 20) * RATE / 1000)
            chunk = np.ascontiguousarray(audio[lo:hi])
            key = _key(chunk, expect)
            if key in memo:
                continue
            began = time.perf_counter()
            t = stt.transcribe(chunk, a, expect=expect)
            entry: dict[str, Any] = {
                "text": t.text.strip(), "logprob": math.log(t.confidence) if t.confidence
                else -9.0, "ms": 1000.0 * (time.perf_counter() - began)}
            if kind:
                began = time.perf_counter()
                c = constrained_decode(load_whisper_model(model),
                                       chunk.astype(np.float32) / 32768.0, kind,
                                       digits=expect.digits)
                entry["constrained"] = dataclasses.asdict(c) | {
                    "ms": 1000.0 * (time.perf_counter() - began)}
            memo[key] = entry
        if n % 25 == 0:
            print(f"{model}: {n}/{len(items)}", file=sys.stderr, flush=True)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(memo))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(memo))


@dataclasses.dataclass(frozen=True)
class Candidate:
    """A recognizer: an open model, and whether closed answers get the constrained try."""

    name: str
    model: str
    constrained: bool = False
    rule: ConstrainedChoice = dataclasses.field(default_factory=ConstrainedChoice)


def _reading(entry: dict[str, Any], cand: Candidate, expect: Any) -> tuple[str, float]:
    """(text, STT ms) the candidate would have produced for this segment."""
    text, ms = str(entry["text"]), float(entry["ms"])
    cons = entry.get("constrained")
    if not (cand.constrained and cons and wants_constrained(text, expect)):
        return text, ms
    c = Constrained(cons["text"], cons["avg_logprob"], cons["no_speech_prob"])
    return choose(text, entry["logprob"], c, expect, cand.rule), ms + float(cons["ms"])


def evaluate(candidates: list[Candidate], out: Path | None, show: str | None) -> None:
    items, today = load_items()
    judge = FlowJudge(today)
    synth = Synth()
    memos: dict[str, dict[str, Any]] = {}
    for model in {c.model for c in candidates}:
        for path in (OUT_DIR / f"{model}.json", *OUT_DIR.glob(f"{model}-from*.json")):
            if path.exists():
                memos.setdefault(model, {}).update(json.loads(path.read_text()))
    cands = [c for c in candidates if c.model in memos]
    # Each line's segments and their memo keys, cached: VAD over the whole set is slow.
    seg_path = OUT_DIR / "segments.json"
    seg_memo: dict[str, list[list[Any]]] = (
        json.loads(seg_path.read_text()) if seg_path.exists() else {})
    prepared: list[tuple[Item, Any, list[tuple[float, float, str]]]] = []
    for item in items:
        listen = judge.listen(item.category)
        expect = Expects.of(listen).recognizer
        ident = f"{item.seed}:{item.voice}:{item.text}"
        if ident not in seg_memo:
            voice = _voice(item.voice)
            if not (CACHE / "audio" / f"{audio_key(voice, item.text, item.snr_db, item.seed)}"
                    ".npy").exists():
                continue  # never decoded: no audio made for it
            audio = caller_audio(synth, voice, item.text, item.snr_db, item.seed, CACHE)
            entries = []
            for a, b in vad_segments(audio):
                lo, hi = int(a * RATE / 1000), int((b + 20) * RATE / 1000)
                entries.append([a, b, _key(np.ascontiguousarray(audio[lo:hi]), expect)])
            seg_memo[ident] = entries
        segs = [(float(a), float(b), str(k)) for a, b, k in seg_memo[ident]]
        # Only lines every model decoded in full (a slow model may have decoded a sample).
        if all(k in memo for memo in memos.values() for _, _, k in segs):
            prepared.append((item, listen, segs))
    seg_path.parent.mkdir(parents=True, exist_ok=True)
    seg_path.write_text(json.dumps(seg_memo))
    report: dict[str, Any] = {"loaded_machine": True, "lines": len(prepared), "candidates": {}}
    for cand in cands:
        rows = []
        for item, listen, segs in prepared:
            expects = Expects.of(listen)
            segments = []
            for a, b, key in segs:
                entry = memos[cand.model][key]
                text, ms = _reading(entry, cand, expects.recognizer)
                segments.append(Segment(a, b, text, ms))
            turns = turns_of(segments, expects)
            heard = " ".join(s.text for s in turns[0] if s.text) if turns else ""
            got = judge.judge(item.category, heard) if turns else "reprompt"
            right = got == item.expected and len(turns) <= 1
            rows.append((item, got, right, [s.stt_ms for s in segments], heard))
            if show and cand.name == show and not right and item.split != "v3":
                print(f"  {item.split:7} {item.category:8} {item.voice:18} "
                      f"{item.text!r} -> {heard!r} = {got!r}", file=sys.stderr)
        report["candidates"][cand.name] = _summary(rows)
    text = json.dumps(report, indent=2)
    if out:
        out.write_text(text)
    print(text)


def _summary(rows: list[tuple[Item, Any, bool, list[float], str]]) -> dict[str, Any]:
    res: dict[str, Any] = {}
    for split in SPLITS:
        part = [r for r in rows if r[0].split == split]
        if not part:
            continue
        cats = {}
        for cat in dict.fromkeys(r[0].category for r in part):
            group = [r for r in part if r[0].category == cat]
            cats[cat] = round(100.0 * sum(r[2] for r in group) / len(group), 1)
        human = [r for r in part if r[0].category == "human"]
        other = [r for r in part if r[0].category != "human"]
        res[split] = {
            "n": len(part), "overall_pct": round(100.0 * sum(r[2] for r in part) / len(part), 1),
            "accuracy_pct": cats,
            "human_recall_pct": round(100.0 * sum(r[1] == "human" for r in human)
                                      / max(1, len(human)), 1),
            "false_escalation_pct": round(100.0 * sum(r[1] == "human" for r in other)
                                          / max(1, len(other)), 1)}
    ms = sorted(m for r in rows for m in r[3])
    closed = sorted(m for r in rows if r[0].category in ("digits", "yes_no") for m in r[3])
    res["stt_ms_per_segment"] = {
        "p50": round(statistics.median(ms), 1) if ms else None,
        "p95": round(ms[int(0.95 * (len(ms) - 1))], 1) if ms else None,
        "closed_p50": round(statistics.median(closed), 1) if closed else None,
        "mean": round(statistics.fmean(ms), 1) if ms else None}
    return res


CANDIDATES = [
    Candidate("tiny.en", "tiny.en"),
    Candidate("tiny.en+constrained", "tiny.en", constrained=True),
    Candidate("base", "base"),
    Candidate("base+constrained", "base", constrained=True),
]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("decode")
    d.add_argument("--model", required=True)
    d.add_argument("--limit", type=int)
    d.add_argument("--every", type=int, default=1, help="only every Nth line")
    d.add_argument("--from", dest="first", type=int, default=0, help="skip the first N lines")
    e = sub.add_parser("evaluate")
    e.add_argument("--json", type=Path)
    e.add_argument("--show", help="print the tuning-part misses of this candidate")
    args = p.parse_args()
    if args.cmd == "decode":
        decode(args.model, args.limit, args.every, args.first)
    else:
        evaluate(CANDIDATES, args.json, args.show)


if __name__ == "__main__":
    main()
