"""What export writes: exports/NAME/ (train.jsonl, validation.jsonl, manifest.json, README.md),
written aside and swapped in whole, and the Hugging Face dataset (--hf, --push-to-hub)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from curate.core.config import Config
from curate.core.errors import ExportError
from curate.core.text import TOKENIZER
from curate.core.workspace import Workspace, atomic_write_bytes, now_utc
from curate.export.exporters import get_exporter
from curate.export.suite import suite_files
from curate.export.template import split_tokens
from curate.export.trainers import trainer_files

if TYPE_CHECKING:
    from curate.export.settings import ExportResult, ExportSettings

SPLITS = ("train", "validation")


def splits_of(settings: ExportSettings) -> tuple[str, ...]:
    """The export's splits: train and validation, and test with --eval."""
    return (*SPLITS, "test") if settings.eval_fraction else SPLITS


SFT_CARD = (
    "Supervised fine-tuning data made by curate from the failures of a prompted model: each example"
    "\nis an input the model got wrong, with the output people corrected in Argilla."
)
PAIRS_CARD = (
    "Preference data made by curate from the failures of a prompted model: each example is an"
    "\ninput the model got wrong, the output people corrected in Argilla (preferred) against the"
    "\noutput the model gave (rejected). Token counts take the longer of the two sides."
)
# what the manifest says of each example, beside its split and line
PROVENANCE = (
    "record_id",
    "task",
    "class",
    "failure_type",
    "triage",
    "edge_case",
    "cluster_id",
    "detectors",
    "annotators",
    "source",
    "tokens",
)


def check_hf_dir(workspace: Workspace, hf_dir: Path | None) -> None:
    """--hf must be a folder of its own: not a file, not the workspace or a folder holding it."""
    if hf_dir is None:
        return
    where = hf_dir.resolve()
    if where.exists() and not where.is_dir():
        raise ExportError(f"--hf {hf_dir}: is a file; give a folder for the Hugging Face dataset")
    if where == workspace.root or where in workspace.root.parents:
        raise ExportError(
            f"--hf {hf_dir}: would write over the workspace {workspace.root}; give a folder "
            "of its own, e.g. --hf hf_dataset/"
        )


def _jsonl(rows: list[dict[str, Any]]) -> bytes:
    return "".join(
        json.dumps(example, ensure_ascii=False) + "\n" for r in rows for example in r["examples"]
    ).encode()


def _lines(members: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Where each record's lines are in its split's file: its first line, and all of them where
    it has more than one (KTO's two sides)."""
    out, line = [], 1
    for r in members:
        n = len(r["examples"])
        out.append({"line": line} | ({"lines": list(range(line, line + n))} if n > 1 else {}))
        line += n
    return out


def write_export(
    config: Config,
    settings: ExportSettings,
    rows: list[dict[str, Any]],
    result: ExportResult,
    extra: dict[str, str] | None = None,
    tasks: dict[str, Any] | None = None,
    detectors: dict[str, Any] | None = None,
) -> None:
    """The export folder, written aside and swapped in whole: a failed export leaves the old one
    as it was; then the Hugging Face dataset where one is asked for. `extra`: the format's own
    files ({name: text}, grpo's rewards.py); `tasks` and `detectors` ([detectors] settings):
    what the --eval suite's assertions are built from."""
    final = Path(result.folder)
    folder = final.with_name(f".{final.name}.tmp-{os.getpid()}")
    shutil.rmtree(folder, ignore_errors=True)
    try:
        folder.mkdir(parents=True)
    except OSError as exc:
        raise ExportError(
            f"cannot write the export under {final.parent} ({exc.strerror}): check that the "
            "folder is writable, or point --workspace at one that is"
        ) from None
    splits = {s: [r for r in rows if r["split"] == s] for s in splits_of(settings)}
    for split, members in splits.items():
        atomic_write_bytes(folder / f"{split}.jsonl", _jsonl(members))
        result.written[split] = sum(len(r["examples"]) for r in members)
    result.tokens = _token_summary([r["tokens"] for r in rows])
    if settings.check_template is not None:
        result.template = {"tokenizer": str(settings.check_template), "splits": split_tokens(rows)}
    manifest = _manifest(config, settings, splits, result)
    atomic_write_bytes(folder / "manifest.json", json.dumps(manifest, indent=2).encode())
    atomic_write_bytes(folder / "README.md", _card(settings, rows, result).encode())
    files = (extra or {}) | trainer_files(settings, final, result.written)
    if settings.eval_fraction:
        files |= suite_files(settings, splits["test"], tasks or {}, detectors or {})
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(folder / name, text.encode())
    old = final.with_name(f".{final.name}.old-{os.getpid()}")
    if final.exists():
        os.replace(final, old)
    os.replace(folder, final)
    shutil.rmtree(old, ignore_errors=True)
    if settings.hf_dir is not None or settings.push_to_hub:
        _hugging_face(settings, splits, result)


def _token_summary(counts: list[int]) -> dict[str, Any]:
    tokens = sorted(counts)
    if not tokens:
        return {}
    return {
        "tokenizer": TOKENIZER,
        "total": sum(tokens),
        "mean": round(sum(tokens) / len(tokens), 1),
        "p50": tokens[len(tokens) // 2],
        "p95": tokens[min(len(tokens) - 1, int(len(tokens) * 0.95))],
        "max": tokens[-1],
    }


def _manifest(
    config: Config,
    settings: ExportSettings,
    splits: dict[str, list[dict[str, Any]]],
    result: ExportResult,
) -> dict[str, Any]:
    """Every example's provenance (by split and line), the counts, the settings, the config."""
    config_hash = hashlib.sha256(config.path.read_bytes()).hexdigest() if config.path else None
    return {
        "created_at": now_utc().isoformat(),
        "format": settings.format,
        "config_sha256": config_hash,
        "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(settings).items()},
        "counts": {"written": result.written, "excluded": result.excluded},
        "tokens": result.tokens,
        "redacted": result.redacted,
        **({"template": result.template} if result.template else {}),
        "examples": [
            {"split": r["split"]} | where | {k: r[k] for k in PROVENANCE}
            for split in splits
            for r, where in zip(splits[split], _lines(splits[split]), strict=True)
        ],
        "excluded": result.excluded_records,
    } | (_pairs(splits) if get_exporter(settings.format).pairs else {})


def _pairs(splits: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """A preference format's count: the records that became pairs (the rest are under
    `excluded`, with why), and the lines they make."""
    rows = [r for members in splits.values() for r in members]
    return {"pairs": {"records": len(rows), "lines": sum(len(r["examples"]) for r in rows)}}


def _hugging_face(
    settings: ExportSettings, splits: dict[str, list[dict[str, Any]]], result: ExportResult
) -> None:
    import datasets

    built = {
        split: datasets.Dataset.from_list([e for r in members for e in r["examples"]])
        for split, members in splits.items()
    }
    # an empty split (--validation-fraction 0) takes the columns of the other, and is saved as
    # one shard: saved with none (datasets 5.2's default for 0 rows) it cannot be loaded again
    full = next((d for d in built.values() if d.num_rows), None)
    if full is not None:
        built = {k: d if d.num_rows else full.select([]) for k, d in built.items()}
    dataset = datasets.DatasetDict(built)
    if settings.hf_dir is not None:
        dataset.save_to_disk(
            str(settings.hf_dir),
            num_shards={k: 1 for k in dataset if not dataset[k].num_rows} or None,
        )
        result.hf_dir = str(settings.hf_dir)
    if settings.push_to_hub:
        dataset.push_to_hub(settings.push_to_hub, private=True)
        result.pushed_to = settings.push_to_hub


def _card(settings: ExportSettings, rows: list[dict[str, Any]], result: ExportResult) -> str:
    def table(column: str) -> str:
        counts = Counter(r[column] for r in rows)
        lines = [f"| {column} | examples |", "|---|---|"]
        lines += [f"| {k} | {v} |" for k, v in counts.most_common()]
        return "\n".join(lines)

    excluded = (
        "\n".join(f"- {reason}: {n}" for reason, n in sorted(result.excluded.items())) or "- none"
    )
    system = "replaced by a short one" if settings.system_prompt is not None else "the original"
    tokens = result.tokens
    token_line = (
        f"{tokens['total']:,} tokens ({tokens['tokenizer']}); per example mean {tokens['mean']}, "
        f"median {tokens['p50']}, p95 {tokens['p95']}, max {tokens['max']}"
        if tokens
        else "no examples"
    )
    redacted = (
        ", ".join(f"{n} {entity}" for entity, n in sorted(result.redacted.items()))
        + " replaced by placeholders (the values stay in the workspace)"
        if result.redacted
        else "nothing (no [tasks.NAME.redact] policy, or nothing found)"
    )
    what = PAIRS_CARD if get_exporter(settings.format).pairs else SFT_CARD
    trainer = (
        f"\n- for {settings.trainer}: its files beside the data say how it loads them"
        if settings.trainer
        else ""
    )
    return f"""# {settings.name}

{what}

- format: `{settings.format}`; files: `train.jsonl` ({result.written.get("train", 0)} examples),
  `validation.jsonl` ({result.written.get("validation", 0)} examples){trainer}
- split: grouped by near-duplicate cluster (no cluster on both sides), stratified by class,
  seed {settings.seed}
- tokens: {token_line}
- system prompt: {system}
- personal data: {redacted}
- provenance: `manifest.json` ties every line to its record, detectors and annotators

## Composition

{table("class")}

{table("failure_type")}

{table("edge_case")}

## Left out

{excluded}
"""
