"""Where the official OCPI 2.2.1 examples are: ../shared/conformance beside the project checkout."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CONFORMANCE_DIR = Path(
    os.environ.get("OCPI_CONFORMANCE_DIR", ROOT.parent / "shared" / "conformance" / "ocpi-2.2.1")
)


def example(name: str) -> Any:
    """One example, parsed; a missing file is an error, never a skipped test."""
    return json.loads((CONFORMANCE_DIR / name).read_text())


def examples(pattern: str) -> list[Path]:
    found = sorted(CONFORMANCE_DIR.glob(pattern))
    if not found:
        raise FileNotFoundError(f"no OCPI examples matching {pattern} in {CONFORMANCE_DIR}")
    return found
