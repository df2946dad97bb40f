"""The documentation stands on its own: every link it makes resolves inside the repository."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parents[1]
PAGES = [ROOT / "README.md", ROOT / "CHANGELOG.md", *sorted((ROOT / "docs").glob("*.md"))]


def test_no_page_points_outside_the_repository() -> None:
    """No page cites a file of the workspace beside the repository (../shared/...)."""
    assert [] == [
        page.name for page in PAGES if re.search(r"(\.\./|`)shared/", page.read_text("utf-8"))
    ]


def test_every_relative_link_resolves() -> None:
    """Each Markdown link to a file names one that exists in the repository."""
    broken = []
    for page in PAGES:
        for target in re.findall(r"\]\(([^)#\s]+)", page.read_text("utf-8")):
            if "://" in target or target.startswith("mailto:"):
                continue
            path = (page.parent / target).resolve()
            if not path.is_relative_to(ROOT) or not path.exists():
                broken.append(f"{page.name}: {target}")

    assert [] == broken
