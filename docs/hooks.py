"""MkDocs hooks: pages generated from the code and the committed bench results at build time.

- ``reference/cli.md``: every ``nasplug`` subcommand's ``--help``;
- ``reference/parts.md``: every installed part, by kind, with its options (type, default, the
  docstring sentence that names it), as ``nasplug plugins NAME`` prints them;
- ``reproduce/<name>.md``: each committed ``bench/results/<name>.md``, listed on ``reproduce/index.md``.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"


def _cli() -> str:
    from nasplug.core.cli.main import build_parser

    parser = build_parser()
    parser.prog = "nasplug"
    out = ["# CLI reference", "", "Generated from the code (`nasplug --help` and each subcommand's `--help`).", "",
           "```text", parser.format_help().rstrip(), "```", ""]
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, p in sub.choices.items():
        p.prog = f"nasplug {name}"
        out += [f"## nasplug {name}", "", "```text", p.format_help().rstrip(), "```", ""]
    return "\n".join(out)


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _parts() -> str:
    from nasplug.core.options import describe_options
    from nasplug.core.registry import GROUPS, registry

    reg = registry()
    out = ["# Configuration and parts", "",
           "Every installed part, by kind, with its options: a config's part table is `name = \"...\"` plus these keys. "
           "Generated from each part's `Config` (the same as `nasplug plugins NAME`).", ""]
    for kind in GROUPS:
        names = reg.names(kind)
        if not names:
            continue
        out += [f"## {kind}", ""]
        for name in names:
            cls = reg.load(kind, name)
            out += [f"### `{name}`", "", _escape(cls.summary()), ""]
            options = describe_options(cls)
            if options:
                out += ["| option | type | default | meaning |", "|---|---|---|---|"]
                for o in options:
                    out.append(f"| `{o.name}` | `{_escape(o.type)}` | `{_escape(repr(o.default))}` | {_escape(o.doc)} |")
                out.append("")
    return "\n".join(out)


def _bench_pages() -> dict[str, str]:
    pages = {}
    for path in sorted(RESULTS.glob("*.md")):
        text = path.read_text(encoding="utf-8")
        # images and links relative to bench/results point at files outside the site: name them instead
        text = re.sub(r"!\[([^\]]*)\]\(([^)]+)\)", r"(plot: `bench/results/\2`)", text)
        text = re.sub(r"\]\((?!https?://)([^)]+)\)", r"] (`\1`)", text)
        if not text.lstrip().startswith("# "):
            text = f"# {path.stem}\n\n{text}"
        pages[f"reproduce/{path.stem}.md"] = text
    return pages


def on_page_markdown(markdown, page, config, files):
    if page.file.src_uri == "reproduce/index.md":
        names = sorted(p.stem for p in RESULTS.glob("*.md"))
        markdown += "\n" + "\n".join(f"- [{name}]({name}.md)" for name in names) + "\n"
    return markdown


def on_files(files, config):
    generated = {"reference/cli.md": _cli(), "reference/parts.md": _parts(), **_bench_pages()}
    for path, content in generated.items():
        files.append(File.generated(config, path, content=content))
    return files
