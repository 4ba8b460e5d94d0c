"""Bad command-line input and settings: one clear line on stderr and exit status 2.

Every case runs the real `callcenter` in a subprocess from a fresh folder, as a user would,
and is refused before the command starts its work (no call placed, no bench run, no
worker connected). Ports 1 and 9 have no server on this machine (connection refused).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FLOW = str(ROOT / "flows" / "customer_support.yaml")
CALLER = str(ROOT / "flows" / "callers" / "customer_support.yaml")
LIVEKIT = {"LIVEKIT_URL": "ws://127.0.0.1:1", "LIVEKIT_API_KEY": "key",
           "LIVEKIT_API_SECRET": "s" * 32}
NO_PG = "postgresql://nobody@127.0.0.1:1/nope"
NO_REDIS = "redis://127.0.0.1:9/0"

# (id, args, env, words the one line must contain)
CASES: list[tuple[str, list[str], dict[str, str], list[str]]] = [
    ("worker-zero-calls", ["worker", "--max-calls", "0"], {}, ["--max-calls"]),
    ("worker-negative-calls", ["worker", "--max-calls", "-1"], {}, ["--max-calls"]),
    ("worker-inf-drain", ["worker", "--drain-timeout", "inf"], {}, ["--drain-timeout",
                                                                   "finite"]),
    ("worker-nan-cpu", ["worker", "--cpu-threshold", "nan"], {}, ["--cpu-threshold", "finite"]),
    ("worker-zero-cpu", ["worker", "--cpu-threshold", "0"], {}, ["--cpu-threshold"]),
    ("worker-port-range", ["worker", "--health-port", "70000"], {}, ["--health-port"]),
    ("worker-processes-zero", ["worker", "--processes", "0"], {}, ["--processes"]),
    ("worker-cpu-over-cores", ["worker", "--processes", "1"],
     {**LIVEKIT, "WORKER_CPU_THRESHOLD": "200"}, ["WORKER_CPU_THRESHOLD", "cores"]),
    ("worker-redis-down", ["worker", "--processes", "1"], {**LIVEKIT, "REDIS_URL": NO_REDIS},
     ["REDIS_URL", "cannot reach"]),
    ("setting-inf-drain", ["flows", "list"], {"WORKER_DRAIN_TIMEOUT_S": "inf"},
     ["WORKER_DRAIN_TIMEOUT_S", "finite"]),
    ("setting-inf-sweep", ["flows", "list"], {"POSTCALL_SWEEP_INTERVAL_S": "inf"},
     ["POSTCALL_SWEEP_INTERVAL_S", "finite"]),
    ("setting-nan-stale", ["flows", "list"], {"POSTCALL_STALE_AFTER_S": "nan"},
     ["POSTCALL_STALE_AFTER_S", "finite"]),
    ("setting-nan-cpu", ["flows", "list"], {"WORKER_CPU_THRESHOLD": "nan"},
     ["WORKER_CPU_THRESHOLD", "finite"]),
    ("setting-zero-calls", ["flows", "list"], {"WORKER_MAX_CALLS": "0"}, ["WORKER_MAX_CALLS"]),
    ("setting-redis-scheme", ["postcall", "worker"], {"REDIS_URL": "http://127.0.0.1:6379"},
     ["REDIS_URL", "redis://"]),
    ("setting-livekit-scheme", ["flows", "list"], {"LIVEKIT_URL": "ftp://lk.example.com"},
     ["LIVEKIT_URL", "wss://"]),
    ("setting-crm-port", ["flows", "list"], {"CRM_WEBHOOK_URL": "https://crm.example:99999/x"},
     ["CRM_WEBHOOK_URL", "port"]),
    ("setting-data-dir-file", ["flows", "list"], {"DATA_DIR": "/etc/hostname/data"},
     ["DATA_DIR", "is a file"]),
    ("pg-down-flows-list", ["flows", "list"], {"DATABASE_URL": NO_PG}, ["DATABASE_URL"]),
    ("pg-down-flows-seed", ["flows", "seed"], {"DATABASE_URL": NO_PG}, ["DATABASE_URL"]),
    ("pg-down-postcall-status", ["postcall", "status"], {"DATABASE_URL": NO_PG},
     ["DATABASE_URL"]),
    ("pg-down-calls-list", ["calls", "list"], {"DATABASE_URL": NO_PG}, ["DATABASE_URL"]),
    ("pg-down-users-list", ["users", "list"], {"DATABASE_URL": NO_PG}, ["DATABASE_URL"]),
    ("pg-down-learn-list", ["learn", "list"], {"DATABASE_URL": NO_PG}, ["DATABASE_URL"]),
    ("redis-down-postcall-worker", ["postcall", "worker"], {"REDIS_URL": NO_REDIS},
     ["REDIS_URL", "cannot reach"]),
    ("redis-down-postcall-process", ["postcall", "process", "c1"], {"REDIS_URL": NO_REDIS},
     ["REDIS_URL", "cannot reach"]),
    ("redis-down-bench-postcall", ["bench", "postcall", "--redis-url", NO_REDIS], {},
     ["--redis-url", "cannot reach"]),
    ("publish-missing-file", ["flows", "publish", "/nonexistent/flow.yaml"], {},
     ["does not exist"]),
    ("seed-missing-folder", ["flows", "seed", "--directory", "/nonexistent"], {},
     ["--directory", "does not exist"]),
    ("rollback-version-zero", ["flows", "rollback", "support", "0"], {}, ["version"]),
    ("call-at-tomorrow", ["call", "--flow", FLOW, "--caller", CALLER, "--speech", "fake",
                          "--at", "tomorrow"], {}, ["--at", "ISO 8601"]),
    ("call-bad-caller-yaml", ["call", "--flow", FLOW, "--caller", "{tmp}/caller.yaml",
                              "--speech", "fake"], {}, ["--caller"]),
    ("call-bad-webhooks", ["call", "--flow", FLOW, "--caller", CALLER, "--speech", "fake",
                           "--webhooks", "{tmp}/hooks.yaml"], {}, ["--webhooks"]),
    ("call-json-folder-missing", ["call", "--flow", FLOW, "--caller", CALLER, "--speech",
                                  "fake", "--json", "/nonexistent/out.json"], {},
     ["--json", "does not exist"]),
    ("chat-missing-flow", ["chat", "--flow", "/nonexistent/flow.yaml"], {}, ["--flow"]),
    ("chat-at-tomorrow", ["chat", "--flow", FLOW, "--at", "tomorrow"], {}, ["--at"]),
    ("chat-missing-webhooks", ["chat", "--flow", FLOW, "--webhooks", "/nonexistent.yaml"], {},
     ["--webhooks"]),
    ("postcall-timeout-inf", ["postcall", "process", "c1", "--timeout", "inf"], {},
     ["--timeout", "finite"]),
    ("providers-timeout-negative", ["providers", "check", "--timeout", "-1"], {},
     ["--timeout"]),
    ("bench-dispatch-rate-zero", ["bench", "dispatch", "--rate", "0"], {}, ["--rate"]),
    ("bench-dispatch-seconds-inf", ["bench", "dispatch", "--seconds", "inf"], {},
     ["--seconds"]),
    ("bench-voice-json-folder", ["bench", "voice", "--quick", "--json", "/nonexistent/x.json"],
     {}, ["--json"]),
    ("calls-last-too-far", ["calls", "list", "--last", "99999999999d"], {}, ["--last"]),
    ("calls-since-not-a-time", ["calls", "list", "--since", "yesterday"], {}, ["--since"]),
    ("calls-page-zero", ["calls", "list", "--page", "0"], {}, ["--page"]),
    ("learn-unknown-status", ["learn", "list", "--status", "maybe"], {}, ["--status"]),
    ("unknown-option", ["flows", "list", "--bogus"], {}, ["--bogus"]),
    ("api-port-range", ["api", "--dev", "--port", "70000"], {}, ["--port"]),
    ("postcall-worker-loglevel", ["postcall", "worker", "--loglevel", "chatty"],
     {"REDIS_URL": NO_REDIS}, ["--loglevel"]),
]


def _run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items()
            if k not in {"DATABASE_URL", "DATA_DIR", "REDIS_URL", "LIVEKIT_URL"}}
    full.update({"COLUMNS": "100", **env})
    return subprocess.run([sys.executable, "-m", "callcenter", *args], cwd=cwd, env=full,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(("args", "env", "words"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_bad_input_is_one_clear_line_and_exit_status_2(
    args: list[str], env: dict[str, str], words: list[str], tmp_path: Path
) -> None:
    (tmp_path / "caller.yaml").write_text("steps:\n  - say: [unclosed\n")
    (tmp_path / "hooks.yaml").write_text("- match: x\n  status: not-a-number\n")
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    out = _run(args, env, tmp_path)
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert out.returncode == 2, (out.returncode, out.stdout[-800:], out.stderr[-1500:])
    assert "Traceback" not in out.stderr
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("error: "), lines[0]
    for word in words:
        assert word in lines[0], lines[0]
    # Refused before any work: nothing placed a call, ran a bench or wrote a result.
    assert "calling" not in out.stdout and "wrote" not in out.stdout


def test_secret_in_a_bad_url_setting_is_not_echoed(tmp_path: Path) -> None:
    out = _run(["flows", "list"], {"REDIS_URL": "http://user:hunter2secret@h:6379"}, tmp_path)
    assert out.returncode == 2 and "hunter2secret" not in out.stderr, out.stderr


def test_help_and_no_arguments_still_show_help(tmp_path: Path) -> None:
    out = _run(["flows", "--help"], {}, tmp_path)
    assert out.returncode == 0 and "publish" in out.stdout, out.stderr
    bare = _run(["flows"], {}, tmp_path)
    assert "publish" in bare.stdout + bare.stderr and "Traceback" not in bare.stderr
