"""The README documents every environment variable the settings read."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_setting_from_the_environment_is_in_the_readme():
    settings_text = (ROOT / "clearinghouse" / "settings.py").read_text()
    names = set(re.findall(r'env(?:\.[a-z]+)?\(\s*"([A-Z0-9_]+)"', settings_text))
    assert len(names) > 50
    readme = (ROOT / "README.md").read_text()
    missing = sorted(name for name in names if name not in readme)
    assert not missing, f"README.md does not document: {missing}"
