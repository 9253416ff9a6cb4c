"""Rewrite the README's options table from the settings declaration (src/pytest_mlinfra/settings.py).

python scripts/gen_settings_table.py          # rewrite README.md in place
python scripts/gen_settings_table.py --check  # exit 1 when the README is out of date
"""

from __future__ import annotations

import sys
from pathlib import Path

from pytest_mlinfra.settings import markdown_table

README = Path(__file__).resolve().parents[1] / "README.md"
START, END = "<!-- settings-table:start -->\n", "<!-- settings-table:end -->\n"


def render(readme: str) -> str:
    head, rest = readme.split(START, 1)
    _old, tail = rest.split(END, 1)
    return head + START + markdown_table() + END + tail


def main() -> int:
    text = README.read_text()
    fresh = render(text)
    if "--check" in sys.argv:
        return int(fresh != text)
    README.write_text(fresh)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
