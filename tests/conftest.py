import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
# every test gets its own run store unless it sets one itself
os.environ.setdefault("MICROGRAD_RUNS_DB", str(ROOT / "tests" / "artifacts" / "default-runs.sqlite"))
