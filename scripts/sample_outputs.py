"""Every output of the pipeline on the bundled sample, as one JSON document: run it before and
after a change that must not change behaviour, and diff the two.

    .venv/bin/python scripts/sample_outputs.py > /tmp/before.json
    ... the change ...
    .venv/bin/python scripts/sample_outputs.py > /tmp/after.json
    diff /tmp/before.json /tmp/after.json

It runs, in a temporary copy of sample_data/ and in this process, every command's `--json`
(run, the queue answered by an in-memory stand-in of Argilla, run again, export in each format,
report, status, failures, queue status), hashes every workspace table (rows sorted) and every
exported file. What changes from run to run (times, run ids, the temporary folder) is blanked.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import polars as pl
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
VOLATILE = re.compile(
    r"(time|seconds|_at$|^at$|elapsed|duration|started|finished|^id$|run_id|commit|fingerprint)"
)


def _blank(value: Any, tmp: str) -> Any:
    if isinstance(value, dict):
        return {k: "~" if VOLATILE.search(k) else _blank(v, tmp) for k, v in value.items()}
    if isinstance(value, list):
        return [_blank(v, tmp) for v in value]
    if isinstance(value, str):
        return value.replace(tmp, "<tmp>")
    return value


def _table_digest(paths: list[Path], tmp: str) -> dict[str, Any]:
    """A table's rows (from all its part files, in any order) and columns, hashed."""
    frame = pl.concat([pl.read_parquet(p) for p in paths], how="diagonal_relaxed")
    keep = [c for c, t in frame.schema.items() if not t.is_temporal() and not VOLATILE.search(c)]
    lines = frame.select(keep).write_ndjson().replace(tmp, "<tmp>").splitlines()
    digest = hashlib.sha256("\n".join(sorted(lines)).encode()).hexdigest()
    return {"rows": frame.height, "columns": keep, "sha256": digest}


def _queue_seam(stand_in: Any) -> None:
    """The in-memory stand-in takes Argilla's place (wherever this version of curate asks)."""
    from curate.core.project import Project

    if hasattr(Project, "queue"):
        Project.queue = lambda self: stand_in  # type: ignore[method-assign]
    else:
        import curate.queue.stage

        curate.queue.stage.connect = lambda config: stand_in  # type: ignore[attr-defined]


def _answers(dataset: Any, record: dict[str, Any]) -> dict[str, Any]:
    """A person's answers, derived from the record alone (the same every run)."""
    digest = int(hashlib.sha256(record["external_id"].encode()).hexdigest(), 16)
    values: dict[str, Any] = {"is_failure": "yes" if digest % 3 else "no"}
    labels = dataset.questions.get("label")
    label = labels[digest % len(labels)] if labels else "match"
    if labels:
        values["label"] = label
    # the sample's pair task answers in JSON; a label in its schema's shape is a valid correction
    pair = not labels or "non_match" in labels
    values["corrected_output"] = json.dumps({"decision": label}) if pair else label
    return values


def main() -> int:
    from curate.cli import main as cli
    from curate.queue.memory import MemoryQueue

    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = str(Path(tmp).resolve())
        shutil.copytree(ROOT / "sample_data", Path(tmp) / "p")
        base = ["--config", f"{tmp}/p/curate.toml", "--workspace", f"{tmp}/p/.curate"]
        runner = CliRunner()
        queue = MemoryQueue()
        _queue_seam(queue)

        def run(name: str, *args: str) -> None:
            result = runner.invoke(cli, [*base, *args], catch_exceptions=False)
            try:
                parsed = json.loads(result.stdout)
            except ValueError:
                parsed = result.stdout
            out[name] = {"exit": result.exit_code, "json": _blank(parsed, tmp)}

        run("run (push)", "run", "--json")
        out["answered"] = queue.answer_all(_answers)
        run("run (pull, export)", "run", "--json")
        for fmt in ("openai", "prompt-completion", "sharegpt", "alpaca"):
            run(f"export {fmt}", "export", "--name", f"x-{fmt}", "--format", fmt, "--json")
        run("report", "report", "--json")
        run("status", "status", "--json")
        run("queue status", "queue", "status", "--json")
        run("failures", "failures", "--json", "--limit", "1000")
        run("report html", "report", "--html", f"{tmp}/report.html")
        workspace = Path(tmp) / "p" / ".curate"
        tables: dict[str, list[Path]] = {}
        for path in sorted(workspace.rglob("*.parquet")):
            parts = path.relative_to(workspace).parts
            name = "/".join(p for p in parts[:-1] if "=" not in p) or parts[0]
            tables.setdefault(name, []).append(path)
        out["tables"] = {name: _table_digest(paths, tmp) for name, paths in tables.items()}
        out["exports"] = {
            str(p.relative_to(workspace)): (
                _blank(json.loads(p.read_text()), tmp)
                if p.suffix == ".json"
                else hashlib.sha256(p.read_text().replace(tmp, "<tmp>").encode()).hexdigest()
            )
            for p in sorted((workspace / "exports").rglob("*"))
            if p.is_file()
        }
        out["workspace manifest"] = _blank(
            json.loads((workspace / "manifest.json").read_text()), tmp
        )
    json.dump(out, sys.stdout, indent=1, sort_keys=True, default=str)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
