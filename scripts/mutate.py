"""`make mutate`: mutation testing of the modules people decide from, with the kill rate of each.

mutmut (pyproject's [tool.mutmut]) changes one thing at a time in the modules of GROUPS (a
comparison flipped, a number moved, an argument dropped) and runs the tests under tests/units
that cover the changed function. A mutant the tests still pass on "survived": either a test is
missing, or the change is equivalent (nothing observable changes). The equivalent ones are
listed in tests/units/equivalent_mutants.txt, each with why, and not counted.

    scripts/mutate.py                 every group (about 20 minutes on 2 cores)
    scripts/mutate.py compare triage  those groups (make mutate GROUPS="compare triage")
    scripts/mutate.py --list          the groups and what they cover

Exits 1 when a group kills under MIN_KILL_RATE of its mutants.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MUTMUT = [sys.executable, "-m", "mutmut"]
EQUIVALENT = REPO / "tests" / "units" / "equivalent_mutants.txt"
MIN_KILL_RATE = 0.85
# pytest's plugin autoload costs 0.6 s a mutant; one polars thread a worker: mutmut runs one
# worker a core already
ENV = os.environ | {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "POLARS_MAX_THREADS": "1"}

# group -> the mutants it holds (mutmut's names: module.x_function or module.xǁClassǁmethod)
GROUPS: dict[str, list[str]] = {
    "compare": ["curate.report.compare.*"],
    "report-statistics": ["curate.report.stage.x_plateau_verdict__*"],
    "triage": ["curate.core.triage.*"],
    "answers": ["curate.core.answers.*"],
    "annotations": ["curate.core.annotations.*"],
    "workspace-journal": [
        "curate.core.workspace.x_lock_timeout__*",
        *(
            f"curate.core.workspace.xǁWorkspaceǁ{m}__*"
            for m in ("commit", "_apply", "recover", "lock")
        ),
    ],
    # engine() (loading Presidio) is set-up, warmed once by the tests: its mutants are left out
    # the HTTP side (asking, retrying) is tests/queue/test_judge.py's, against a local server
    "judge": [
        *(f"curate.queue.judge.x_{f}__*" for f in ("prompt_for", "_read_answer")),
        "curate.core.suggestions.x_judge_agreement__*",
        *(f"curate.queue.judge.xǁJudgeǁ{m}__*" for m in ("__init__", "scrub", "_tokens", "_score")),
    ],
    "redact": [
        "curate.core.redact.xǁPolicyǁ*",
        *(
            f"curate.core.redact.x_{f}__*"
            for f in ("detectable_entities", "redact_records", "kept_values", "save_mapping")
        ),
    ],
    "taggers": ["curate.balance.taggers.*"],
    "engine-settings": [
        *(
            f"curate.core.engine.xǁEngineǁ{m}__*"
            for m in ("from_config", "describe", "distributed")
        ),
        "curate.core.engine.x__check_reachable__*",
    ],
    "export-checks": [
        *(f"curate.export.stage.x_{f}__*" for f in ("check_export_name", "_split")),
        *(
            f"curate.export.checks.x_{f}__*"
            for f in (
                "assistant_turn",
                "messages_for",
                "check_openai_example",
                *("discarded", "fixed_without_training", "unresolved", "confirmed_control"),
                *("unknown_task", "too_long", "duplicate", "left_out"),
            )
        ),
    ],
    "record-identity": [
        f"curate.core.records.x_{f}__*" for f in ("finalize", "input_text", "input_hash")
    ],
}


def _mutmut(*args: str) -> str:
    done = subprocess.run([*MUTMUT, *args], cwd=REPO, env=ENV, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"mutmut {' '.join(args)} failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    return done.stdout


def _function(name: str) -> str:
    """curate.report.compare.x_side__mutmut_5 -> curate.report.compare.x_side"""
    return name.rsplit("__mutmut_", 1)[0]


def _changed_line(name: str) -> str:
    """The line the mutant wrote (the '+' lines of its diff), spaces folded."""
    from mutmut.mutation.diff_apply import get_diff_for_mutant  # what `mutmut show` prints

    module = name.rsplit(".", 1)[0]
    diff = get_diff_for_mutant(name, path=Path(*module.split(".")).with_suffix(".py"))
    added = [
        line[1:]
        for line in diff.splitlines()
        if line.startswith("+") and not line.startswith("+++")
    ]
    return " ".join(" ".join(added).split())


def equivalents() -> dict[tuple[str, str], str]:
    """(function, changed line) -> why the change is equivalent. The file's lines read
    `function | changed line | why`; a blank line or a `#` line is a comment."""
    out = {}
    for number, raw in enumerate(EQUIVALENT.read_text().splitlines(), 1):
        if not raw.strip() or raw.startswith("#"):
            continue
        parts = [p.strip() for p in raw.split(" | ")]  # the changed line may hold " | " itself
        function, line, why = parts[0], " | ".join(parts[1:-1]), parts[-1]
        if len(parts) < 3 or not (function and line and why):
            sys.exit(f"{EQUIVALENT}:{number}: write `function | changed line | why`")
        out[(function, " ".join(line.split()))] = why
    return out


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("groups", nargs="*", help=f"some of: {', '.join(GROUPS)}")
    parser.add_argument("--list", action="store_true", help="list the groups and stop")
    parser.add_argument(
        "--report", action="store_true", help="report the last run (mutants/) again, run nothing"
    )
    args = parser.parse_args()
    os.chdir(REPO)  # mutmut reads pyproject.toml and mutants/ from here
    if args.list:
        for group, patterns in GROUPS.items():
            print(f"{group:20} {' '.join(patterns)}")
        return 0
    unknown = [g for g in args.groups if g not in GROUPS]
    if unknown:
        parser.error(f"no group {', '.join(unknown)}; the groups: {', '.join(GROUPS)}")
    chosen = {g: GROUPS[g] for g in (args.groups or GROUPS)}
    patterns = [p for group in chosen.values() for p in group]
    print(f"mutmut over {', '.join(chosen)} (tests/units only; mutants/ holds the run)", flush=True)
    if not args.report:
        # afresh each time: mutmut reruns every mutant named anyway, and an old mutants/ keeps
        # the files of an older only_mutate unmutated
        shutil.rmtree(REPO / "mutants", ignore_errors=True)
        subprocess.run([*MUTMUT, "run", *patterns], cwd=REPO, check=False, env=ENV)

    status = {}
    for line in _mutmut("results", "--all", "true").splitlines():
        name, _, state = line.strip().rpartition(": ")
        if name:
            status[name] = state
    known = equivalents()
    used: set[tuple[str, str]] = set()
    failed = False
    print(
        f"\n{'group':20} {'mutants':>8} {'killed':>7} {'equivalent':>11} {'survived':>9} "
        f"{'rate':>7}"
    )
    for group, group_patterns in chosen.items():
        regex = re.compile("|".join(re.escape(p).replace(r"\*", ".*") for p in group_patterns))
        mine = {n: s for n, s in status.items() if regex.fullmatch(n)}
        counts = Counter()
        survivors = []
        for name, state in sorted(mine.items()):
            if state in ("killed", "timeout", "segfault", "caught by type check"):
                counts["killed"] += 1
                continue
            key = (_function(name), _changed_line(name))
            if key in known:
                counts["equivalent"] += 1
                used.add(key)
            else:
                counts["survived"] += 1
                survivors.append((name, state, key[1]))
        counted = len(mine) - counts["equivalent"]
        rate = counts["killed"] / counted if counted else 1.0
        failed |= rate < MIN_KILL_RATE
        print(
            f"{group:20} {len(mine):8} {counts['killed']:7} {counts['equivalent']:11} "
            f"{counts['survived']:9} {rate:7.1%}"
        )
        for name, state, line in survivors:
            print(f"    {state:10} {name}: {line}")
    stale = [
        k
        for k in known
        if k not in used
        and any(
            re.fullmatch(re.escape(p).replace(r"\*", ".*"), k[0] + "__mutmut_1") for p in patterns
        )
    ]
    for function, line in stale:
        print(f"note: {EQUIVALENT.name} lists a mutant that did not survive: {function} | {line}")
    if failed:
        print(
            f"\na group kills under {MIN_KILL_RATE:.0%}: add tests that assert the number "
            "(see CONTRIBUTING.md), or list an equivalent mutant with why"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
