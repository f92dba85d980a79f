"""The documentation's run configurations are valid configs (every ```toml block with a ``kind``),
and every page the nav names exists."""

import re
import tomllib
from pathlib import Path

import pytest

from nasplug.core.config import RunConfig

DOCS = Path(__file__).resolve().parents[2] / "docs"
BLOCKS = [(page.relative_to(DOCS), block) for page in sorted(DOCS.rglob("*.md"))
          for block in re.findall(r"```toml\n(.*?)```", page.read_text(encoding="utf-8"), re.S)]


@pytest.mark.parametrize("page, block", [b for b in BLOCKS if re.search(r"^kind = ", b[1], re.M)],
                         ids=lambda v: str(v)[:40])
def test_every_documented_run_config_validates(page, block):
    RunConfig.from_dict(tomllib.loads(block), source=str(page))


def test_the_nav_names_existing_pages():
    nav = (DOCS.parent / "mkdocs.yml").read_text()
    for path in re.findall(r"(?:^|: )([\w/\-]+\.md)$", nav, re.M):
        generated = path.startswith("reference/") and path != "reference/api.md"
        assert generated or (DOCS / path).is_file(), path
