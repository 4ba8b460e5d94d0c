"""`callcenter dev --processes N`: dev carries its calls in one process, and says why."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_more_than_one_process_is_refused_with_the_reason_and_the_way(tmp_path: Path) -> None:
    env = {**os.environ, "DATA_DIR": str(tmp_path / "data")}
    done = subprocess.run(
        [sys.executable, "-m", "callcenter", "dev", "--processes", "2", "--sip-port", "0",
         "--no-warm"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stdout + done.stderr
    said = " ".join(done.stderr.replace("│", " ").split())
    assert "--processes" in said
    assert "one process" in said and "callcenter worker --processes N" in said
    assert not (tmp_path / "data").exists(), "refused before it started anything"
