"""Mutation testing of nasplug's search logic with mutmut, on a copy of the repository.

    python mutation/check.py                 # every target; compare with mutation/budget.toml, exit 1 if over
    python mutation/check.py --tier ci       # the CI tier (what .ci/run runs beside the test suite)
    python mutation/check.py --write         # also write mutation/results[_ci].json and .md
    python mutation/check.py --repo REV ...  # mutate and test the tree of a git revision instead

The copy keeps the checkout untouched (the test suite may run beside it). The copy's packages come
first on ``PYTHONPATH``, so whichever environment runs this, its code is the code mutated.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HERE = ROOT / "mutation"
PACKAGES = ("nasplug-core", "nasplug-spaces", "nasplug-samplers", "nasplug-proxies", "nasplug-search")
KILLED = ("ok_killed", "ok_suspicious", "bad_timeout")


def copy_tree(dest: Path, revision: str | None) -> None:
    """The tracked files of the working tree (or of ``revision``) into ``dest``."""
    if revision:
        archive = subprocess.run(["git", "archive", revision], cwd=ROOT, check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    else:
        files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True).stdout
        for name in filter(None, files.decode().split("\0")):
            source = ROOT / name
            if source.is_file():
                (dest / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, dest / name)
    # the mutation config of *this* checkout, so two revisions are measured on the same targets
    (dest / "mutation").mkdir(exist_ok=True)
    for name in ("targets.toml", "mutmut_config.py", "run_tests.py"):
        shutil.copy2(HERE / name, dest / "mutation" / name)


def environment(work: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(work / p / "src") for p in PACKAGES] + [str(work / "mutation")]
                                        + [p for p in [os.environ.get("PYTHONPATH")] if p])
    env.setdefault("NASPLUG_BENCHMARKS", str((ROOT.parent / "shared" / "benchmarks").resolve()))
    return env


def run_mutmut(work: Path, targets: dict[str, dict], env: dict[str, str]) -> None:
    from mutmut_config import test_command

    # one mutmut invocation per file: its baseline runs that file's own tests, and a crash of
    # mutmut on one file (mutmut 2 has a few) cannot stop the others
    for path, target in targets.items():
        if not target.get("mutmut", True):
            continue
        out = subprocess.run([sys.executable, "-m", "mutmut", "run", "--paths-to-mutate", path,
                              "--runner", test_command(target), "--tests-dir", "tests", "--test-time-base", "300",
                              "--simple-output", "--no-progress"], cwd=work, env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
        if "Traceback" in out.stderr:
            print(f"warning: mutmut failed on {path}: {out.stderr.strip().splitlines()[-1]}", file=sys.stderr)


def swap_mutants(work: Path, targets: dict[str, dict], env: dict[str, str]) -> list[dict]:
    """The "swap" mutants mutmut does not make: each quoted word of a target's ``swap`` pair on a
    mutable line replaced by the other (e.g. a proxy's ``direction = "max"`` made ``"min"``)."""
    from mutmut_config import mutable_lines, test_command

    out = []
    for path, target in targets.items():
        pair = target.get("swap")
        if not pair:
            continue
        file = work / path
        original = file.read_text(encoding="utf-8")
        lines = original.splitlines(keepends=True)
        for number in sorted(mutable_lines(path, work)):
            text = lines[number - 1]
            for word, other in (pair, pair[::-1]):
                for quote in ('"', "'"):
                    if f"{quote}{word}{quote}" not in text:
                        continue
                    mutated = text.replace(f"{quote}{word}{quote}", f"{quote}{other}{quote}")
                    file.write_text("".join(lines[:number - 1] + [mutated] + lines[number:]), encoding="utf-8")
                    try:
                        passed = subprocess.run(test_command(target), shell=True, cwd=work, env=env,
                                                capture_output=True).returncode == 0
                    finally:
                        file.write_text(original, encoding="utf-8")
                    out.append({"id": f"swap-{len(out)}", "status": "bad_survived" if passed else "ok_killed",
                                "path": path, "line": number, "source": text.strip(),
                                "diff": f"-{text.rstrip()}\n+{mutated.rstrip()}"})
    return out


def read_results(work: Path) -> list[dict]:
    db = sqlite3.connect(work / ".mutmut-cache")
    rows = db.execute("SELECT m.id, m.status, s.filename, l.line_number, l.line FROM Mutant m "
                      "JOIN Line l ON m.line = l.id JOIN SourceFile s ON l.sourcefile = s.id ORDER BY m.id").fetchall()
    return [{"id": r[0], "status": r[1], "path": r[2], "line": r[3] + 1, "source": r[4].strip()} for r in rows]


def diff_of(work: Path, mutant_id: int) -> str:
    out = subprocess.run([sys.executable, "-m", "mutmut", "show", str(mutant_id)], cwd=work,
                         capture_output=True, text=True).stdout
    return "\n".join(l for l in out.splitlines() if l.startswith(("-", "+")) and not l.startswith(("---", "+++")))


def summarise(mutants: list[dict], seconds: float) -> dict:
    tested = [m for m in mutants if m["status"] != "skipped"]
    survived = [m for m in tested if m["status"] == "bad_survived"]
    by_path: dict[str, dict[str, int]] = {}
    for m in tested:
        row = by_path.setdefault(m["path"], {"tested": 0, "killed": 0, "survived": 0})
        row["tested"] += 1
        row["killed" if m["status"] in KILLED else "survived"] += 1
    killed = sum(m["status"] in KILLED for m in tested)
    return {"tested": len(tested), "killed": killed, "survived": len(survived),
            "score": round(killed / len(tested), 4) if tested else None, "seconds": round(seconds, 1),
            "by_path": by_path, "survivors": survived}


def explanations() -> dict[str, str]:
    data = tomllib.loads((HERE / "survivors.toml").read_text(encoding="utf-8")) if (HERE / "survivors.toml").exists() else {}
    return {f"{s['path']}|{s['source']}|{s['diff']}": s["why"] for s in data.get("survivor", [])}


def write_report(summary: dict, label: str, suffix: str = "") -> None:
    (HERE / f"results{suffix}.json").write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    why = explanations()
    lines = [f"# Mutation testing ({label})", "",
             f"{summary['tested']} mutants tested, {summary['killed']} killed, {summary['survived']} survived: "
             f"score **{summary['score']:.1%}** in {summary['seconds'] / 60:.1f} min.", "",
             "| file | tested | killed | survived |", "|---|---|---|---|"]
    lines += [f"| `{p}` | {r['tested']} | {r['killed']} | {r['survived']} |" for p, r in summary["by_path"].items()]
    lines += ["", "## Surviving mutants", ""]
    for m in summary["survivors"]:
        key = f"{m['path']}|{m['source']}|{m['diff']}"
        lines += [f"- `{m['path']}:{m['line']}`: `{m['diff'].splitlines()[-1][1:].strip() if m['diff'] else m['source']}`",
                  f"  {why.get(key, '**unexplained**')}"]
    (HERE / f"results{suffix}.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", metavar="REV", help="mutate the tree of this git revision (e.g. to measure a 'before')")
    parser.add_argument("--write", action="store_true", help="write mutation/results.json and results.md")
    parser.add_argument("--json", metavar="PATH", help="write the summary here too")
    parser.add_argument("--keep", action="store_true", help="keep the working copy")
    parser.add_argument("--tier", choices=("ci", "full"), default="full", help="which targets (default: full)")
    args = parser.parse_args()
    sys.path.insert(0, str(HERE))
    from mutmut_config import load_targets

    os.environ["NASPLUG_MUTATION_TIER"] = args.tier
    targets = load_targets(args.tier)
    work = Path(tempfile.mkdtemp(prefix="nasplug-mutation-"))
    try:
        copy_tree(work, args.repo)
        missing = [p for p in targets if not (work / p).is_file()]
        for path in missing:
            print(f"warning: {path} is not in the tree; its target is left out", file=sys.stderr)
            targets.pop(path)
        env = environment(work)
        started = time.perf_counter()
        run_mutmut(work, targets, env)
        mutants = read_results(work) if (work / ".mutmut-cache").exists() else []
        for m in mutants:
            if m["status"] == "bad_survived":
                m["diff"] = diff_of(work, m["id"])
        mutants += swap_mutants(work, targets, env)
        seconds = time.perf_counter() - started
        summary = summarise(mutants, seconds)
    finally:
        if args.keep:
            print(f"working copy kept at {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    label = (f"revision {args.repo}" if args.repo else "working tree") + f", {args.tier} tier"
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    if args.write:
        write_report(summary, label, "" if args.tier == "full" else f"_{args.tier}")
    budgets = tomllib.loads((HERE / "budget.toml").read_text(encoding="utf-8"))
    if args.tier not in budgets:
        print(f"mutation testing: {summary['tested']} tested, {summary['killed']} killed, {summary['survived']} survived "
              f"(score {summary['score']:.1%}); no budget committed for the {args.tier} tier yet")
        return 0
    budget = budgets[args.tier]["max_survived"]
    print(f"mutation testing: {summary['tested']} tested, {summary['killed']} killed, {summary['survived']} survived "
          f"(score {summary['score']:.1%}, budget {budget} survivors) in {seconds / 60:.1f} min")
    if summary["survived"] > budget:
        why = explanations()
        for m in summary["survivors"]:
            if f"{m['path']}|{m['source']}|{m['diff']}" not in why:
                print(f"  survived: {m['path']}:{m['line']}: {m['diff'].splitlines()[-1] if m['diff'] else m['source']}")
        print(f"error: {summary['survived']} mutants survived, more than the budget of {budget} in mutation/budget.toml; "
              "add tests that kill them (or explain them in mutation/survivors.toml and raise the budget)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
