"""The API tour under examples/ runs and says what the theory predicts."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_api_tour_runs():
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "api_tour.py")],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "verdict: PROVEN" in proc.stdout
    # Telgarsky: the tent map composed 3 times has 2^3 linear regions on [0, 1].
    assert "sawtooth regions on [0, 1]: {0: 9, 1: 8}" in proc.stdout
    assert "closed-cells sum: REFUTED" in proc.stdout
