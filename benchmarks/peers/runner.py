"""`benchmarks/peers/run`: callcenter, Pipecat and LiveKit Agents on one workload, one table.

A manual bench (not part of the test suite: the peers live in their own virtualenvs under
benchmarks/peers/.venvs/, made here on first use with pinned versions). For each framework
the number of concurrent sessions in ONE process is stepped up (every step a fresh process)
until late frames reach 0.5 % or the process's CPU reaches a core; `max_sessions` is the
largest step under 0.5 %. See common.py for the shared workload and measure.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE))
import table  # noqa: E402

VENVS = HERE / ".venvs"
# What installs here and was measured: bump together with a re-run of the full table.
PEERS: dict[str, dict[str, Any]] = {
    "pipecat": {"venv": "pipecat", "driver": "pipecat_driver.py",
                "pins": ["pipecat-ai[silero]==1.14.0"], "dist": "pipecat-ai"},
    "livekit-agents": {"venv": "livekit", "driver": "livekit_driver.py",
                       "pins": ["livekit-agents==1.8.9", "livekit-plugins-silero==1.8.9"],
                       "dist": "livekit-agents"},
}
FRAMEWORKS = ("callcenter", *PEERS)
FULL_STEPS = (5, 10, 15, 20, 30, 40, 50, 75, 100, 150, 200, 300)
QUICK_STEPS = (5, 10, 20, 40, 80)


def cpu_model() -> str:
    """The host's CPU (figures move with it: an idle Xeon and EPYC of one kind differ)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def log(msg: str) -> None:
    print(f"[peers {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def ensure_venv(name: str) -> Path:
    """The peer's interpreter, its virtualenv made and its pins installed if missing."""
    spec = PEERS[name]
    venv = VENVS / str(spec["venv"])
    python = venv / "bin" / "python"
    pins: list[str] = spec["pins"]
    stamp = venv / ".pins"
    if python.exists() and stamp.exists() and stamp.read_text() == "\n".join(pins):
        return python
    log(f"{name}: making {venv.relative_to(ROOT)} with {' '.join(pins)} (a few minutes)")
    VENVS.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    done = subprocess.run([str(python), "-m", "pip", "install", "-q", *pins])
    if done.returncode:
        raise SystemExit(f"peers: pip could not install {' '.join(pins)} into {venv}; "
                         "check the network and PyPI, or pin a version that installs here")
    stamp.write_text("\n".join(pins))
    return python


def make_workload(folder: Path) -> Path:
    import workload  # callcenter's venv: this process

    made: Path = workload.make(folder)
    return made


def run_step(python: Path, driver: str, folder: Path, n: int, seconds: float) -> dict[str, Any]:
    cmd = [str(python), str(HERE / driver), "--workload", str(folder), "--sessions", str(n),
           "--seconds", f"{seconds:g}"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)} if driver == "ours_driver.py" else None
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, env=env,
                              timeout=seconds + 180.0 + n)
    except subprocess.TimeoutExpired:
        return {"sessions": n, "errors": [f"step timed out after {seconds + 180 + n:g} s"]}
    last = done.stdout.strip().splitlines()[-1:] if done.stdout.strip() else []
    if done.returncode or not last:
        tail = done.stderr.strip().splitlines()[-5:]
        return {"sessions": n, "errors": [f"exit {done.returncode}: " + " | ".join(tail)]}
    result: dict[str, Any] = json.loads(last[0])
    return result


def step_framework(name: str, python: Path, driver: str, folder: Path,
                   steps: tuple[int, ...], seconds: float) -> dict[str, Any]:
    out: list[dict[str, Any]] = []
    stopped = False
    for n in steps:
        if stopped and n != table.AT:
            continue  # past saturation only the step the table quotes still runs
        step = run_step(python, driver, folder, n, seconds)
        out.append(step)
        log(f"{name}: {n} sessions: late {step.get('late_frame_pct', '-')} %, "
            f"CPU {step.get('cpu_pct', '-')} %, overhead p99 "
            f"{(step.get('turn_overhead_ms') or {}).get('p99', '-')} ms"
            + (f", errors {step['errors']}" if step.get("errors") else ""))
        stopped = stopped or table.saturated(step)
    version = next((s["version"] for s in out if "version" in s), "?")
    return {"version": version, "steps": out}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="benchmarks/peers/run",
        description="callcenter beside Pipecat and LiveKit Agents: one workload, one table.")
    p.add_argument("--quick", action="store_true",
                   help=f"short steps ({QUICK_STEPS}, 6 s each) for a loaded machine")
    p.add_argument("--sessions", help="comma-separated steps, e.g. 5,10,15,20 (smallest first)")
    p.add_argument("--seconds", type=float, help="counted seconds per step (full: 20)")
    p.add_argument("--frameworks", default=",".join(FRAMEWORKS),
                   help=f"comma-separated subset of {','.join(FRAMEWORKS)}")
    p.add_argument("--json", type=Path, help="write the table and every step here")
    args = p.parse_args(argv)
    try:
        steps = tuple(sorted({int(x) for x in args.sessions.split(",")})) if args.sessions \
            else (QUICK_STEPS if args.quick else FULL_STEPS)
    except ValueError:
        p.error(f"--sessions wants whole numbers separated by commas, got {args.sessions!r}")
    if any(n < 1 for n in steps):
        p.error("--sessions: every step needs at least 1 session")
    seconds = args.seconds if args.seconds is not None else (6.0 if args.quick else 20.0)
    if seconds < 2.0:
        p.error(f"--seconds {seconds:g}: a step needs at least 2 counted seconds (one turn)")
    names = [x.strip() for x in args.frameworks.split(",") if x.strip()]
    unknown = [x for x in names if x not in FRAMEWORKS]
    if unknown:
        p.error(f"--frameworks: unknown {unknown}; choose from {', '.join(FRAMEWORKS)}")

    load0 = os.getloadavg()
    if load0[0] > 0.5 * (os.cpu_count() or 1):
        log(f"the machine is loaded (load average {load0[0]:.1f} on {os.cpu_count()} CPUs): "
            "late frames and CPU shares measure the other load too; compare on an idle host")
    t0 = time.monotonic()
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="peers-workload-") as tmp:
        folder = make_workload(Path(tmp))
        for name in names:
            if name == "callcenter":
                python, driver = Path(sys.executable), "ours_driver.py"
            else:
                python, driver = ensure_venv(name), PEERS[name]["driver"]
            log(f"{name}: steps {','.join(map(str, steps))}, {seconds:g} s each")
            results[name] = step_framework(name, python, driver, folder, steps, seconds)
    doc = table.build(results)
    doc.update({"mode": "quick" if args.quick else "full", "seconds_per_step": seconds,
                "steps_requested": list(steps), "cpus": os.cpu_count(),
                "cpu_model": cpu_model(),
                "load_avg_at_start": load0, "load_avg_at_end": os.getloadavg(),
                "elapsed_s": round(time.monotonic() - t0, 1)})
    print(doc["table"])
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(doc, indent=2) + "\n")
        log(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
