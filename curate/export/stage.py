"""The export stage: corrected failures become an SFT training set, validated and traceable.

One example per record that annotators resolved: its original input (or a short system prompt
instead of the production one) and the corrected output as the assistant turn. JSON outputs are
re-serialized canonically and checked against the task's schema. Every example is validated
before writing (the checks of OpenAI's fine-tuning data preparation, token counts with a real
tokenizer, duplicates); what fails is listed with its reason and left out. The train/validation
split is grouped by near-duplicate cluster (no cluster on both sides), stratified by class,
seeded. `manifest.json` ties every example to its record, detectors, annotators and config.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import shutil
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from curate.core.answers import by_reference, contradicting_references, referenced_records
from curate.core.config import SEED_MAX, Config, check_range
from curate.core.errors import ExportError, TooFewExamples
from curate.core.project import Project
from curate.core.redact import Policy, kept_values, redact_records, save_mapping
from curate.core.tables import CORRECTED, IS_FAILURE, LABEL
from curate.core.tasks import Task
from curate.core.text import TOKENIZER, label_key_of, tokenizer
from curate.core.triage import NOT_FOR_TRAINING
from curate.core.workspace import Workspace, atomic_write_bytes, now_utc
from curate.export.exporters import get_exporter

ROLES = {"system", "user", "assistant", "tool"}
MIN_EXAMPLES = 10  # OpenAI's fine-tuning minimum


@dataclass
class ExportSettings:
    name: str = "sft"
    task: str | None = None
    format: str = "openai"
    system_prompt: str | None = None
    include_controls: bool = False
    validation_fraction: float = 0.1
    seed: int = 0
    max_tokens: int = 16_384
    hf_dir: Path | None = None
    push_to_hub: str | None = None
    overwrite: bool = False  # replace an existing exports/NAME/
    allow_small: bool = False  # write fewer than MIN_EXAMPLES examples (OpenAI refuses them)
    include_config_failures: bool = False  # config / infrastructure failures (triage.py)


# a plain folder name: no separators, no "..", nothing hidden
EXPORT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def check_export_name(name: str) -> str:
    """The name, if it is a plain folder name under exports/; else an ExportError."""
    if not EXPORT_NAME.fullmatch(name) or ".." in name:
        raise ExportError(
            f"--name {name!r}: give a plain folder name (letters, digits, '.', '_', '-'; no '/' "
            "or '..'), e.g. --name em-v1; the export goes to the workspace's exports/NAME/"
        )
    return name


@dataclass
class ExportResult:
    folder: str
    written: dict[str, int] = field(default_factory=dict)
    excluded: dict[str, int] = field(default_factory=dict)
    excluded_records: list[dict[str, str]] = field(default_factory=list)
    tokens: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    hf_dir: str | None = None
    pushed_to: str | None = None
    redacted: dict[str, int] = field(default_factory=dict)  # entity type -> values replaced

    def to_dict(self) -> dict[str, Any]:
        return dict(vars(self))


def _answers(resolved: pl.DataFrame) -> dict[str, dict[str, Any]]:
    """record_id -> {question: resolved value (decoded)}."""
    out: dict[str, dict[str, Any]] = defaultdict(dict)
    for record_id, question, value in resolved.select("record_id", "question", "value").iter_rows():
        out[record_id][question] = json.loads(value)
    return out


def assistant_turn(
    task: Task, answers: dict[str, Any], output: str | None
) -> tuple[str | None, str | None]:
    """(the corrected output, or None) and why not; JSON outputs canonical and schema-checked."""
    corrected = answers.get(CORRECTED)
    label = answers.get(LABEL)
    if corrected in (None, "") and label is None:
        return None, "no corrected output and no label resolved"
    if corrected in (None, ""):
        # a label alone: the model's own output carrying the right label
        if task.parse_mode == "json" and task.parse_field:
            try:
                value = json.loads(output or "")
            except json.JSONDecodeError:
                value = {}
            value = value if isinstance(value, dict) else {}
            value[task.parse_field] = label
            corrected = json.dumps(value)
        else:
            corrected = label
    if task.wants_json:
        try:
            value = json.loads(corrected)
        except json.JSONDecodeError as exc:
            return None, f"the corrected output is not JSON ({exc.msg})"
        if task.output_schema is not None:
            import jsonschema

            error = jsonschema.exceptions.best_match(
                jsonschema.validators.validator_for(task.output_schema)(
                    task.output_schema
                ).iter_errors(value)
            )
            if error is not None:
                return None, f"the corrected output breaks the task schema: {error.message}"
        if label is not None and task.parse_field and isinstance(value, dict):
            said = value.get(task.parse_field)
            # read as the task reads labels: "non-match", "Non Match" and "non_match" are one
            meant = task.terms().get(label_key_of(str(said), task.case_sensitive))
            if said is not None and said != label and meant != label:
                return (
                    None,
                    f"the corrected output says {said!r} but the resolved label is {label!r}",
                )
            if said is not None:
                value[task.parse_field] = label  # one spelling per label in the training set
        corrected = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return corrected, None


def _messages(messages: list[dict[str, Any]], system_prompt: str | None) -> list[dict[str, str]]:
    out = []
    for message in messages or []:
        if message["role"] == "system" and system_prompt is not None:
            continue
        entry = {"role": message["role"], "content": message.get("content")}
        if message.get("name"):
            entry["name"] = message["name"]
        if message.get("tool_call_id"):
            entry["tool_call_id"] = message["tool_call_id"]
        out.append(entry)
    if system_prompt is not None:
        out.insert(0, {"role": "system", "content": system_prompt})
    return out


def _redacted(project, record, task, policy, messages, answer, result):
    """The example's turns and answer with personal data replaced (curate/core/redact.py); the
    placeholders' values go to the workspace's mapping, never into the export."""
    texts = {"id": [record["record_id"]], "turns": [m["content"] or "" for m in messages]}
    texts["answer"] = [answer]
    kept = [kept_values(record.get("metadata"), task, policy)]
    (done,), found = redact_records([texts], policy, kept)
    save_mapping(project.workspace, found)
    for entity, n in found.counts.items():
        result.redacted[entity] = result.redacted.get(entity, 0) + n
    turns = [m | {"content": c} for m, c in zip(messages, done["turns"], strict=True)]
    return turns, done["answer"][0]


def check_openai_example(example: dict[str, Any]) -> str | None:
    """The format checks of OpenAI's fine-tuning data preparation; the first problem, or None."""
    messages = example.get("messages")
    if not isinstance(messages, list) or not messages:
        return "no messages"
    for message in messages:
        if not isinstance(message, dict):
            return "a message is not an object"
        if message.get("role") not in ROLES:
            return f"unknown role {message.get('role')!r}"
        unknown = set(message) - {
            "role",
            "content",
            "name",
            "tool_calls",
            "tool_call_id",
            "function_call",
            "weight",
        }
        if unknown:
            return f"unknown message keys {sorted(unknown)}"
        if message.get("content") in (None, "") and not message.get("tool_calls"):
            return f"a {message['role']} message has no content"
        if message.get("content") is not None and not isinstance(message["content"], str):
            return "a message content is not text"
    if not any(m["role"] == "assistant" for m in messages):
        return "no assistant message"
    return None


def _split(rows: list[dict[str, Any]], fraction: float, seed: int) -> None:
    """Mark rows train/validation: whole clusters, about `fraction` of each class, seeded."""
    clusters: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        clusters[row["cluster_id"]].append(row)
    by_class: dict[str, list[str]] = defaultdict(list)
    for cluster_id, members in sorted(clusters.items()):
        top = Counter(m["class"] for m in members).most_common(1)[0][0]
        by_class[top].append(cluster_id)
    rng = random.Random(seed)
    for _, ids in sorted(by_class.items()):
        rng.shuffle(ids)
        total = sum(len(clusters[c]) for c in ids)
        want = round(total * fraction)
        taken = 0
        for cluster_id in ids:
            side = "validation" if taken < want else "train"
            if side == "validation":
                taken += len(clusters[cluster_id])
            for row in clusters[cluster_id]:
                row["split"] = side


def export_dataset(project: Project, settings: ExportSettings) -> ExportResult:
    """Write exports/NAME/ (train.jsonl, validation.jsonl, manifest.json, README.md)."""
    get_exporter(settings.format)  # an unknown one: a ConfigError that lists them
    check_range("--validation-fraction", settings.validation_fraction, 0, 1, high_open=True)
    check_range("--seed", settings.seed, 0, SEED_MAX)
    check_range("--max-tokens", settings.max_tokens, 1)
    check_export_name(settings.name)
    project.workspace.require()
    args = {"name": settings.name, "format": settings.format}
    with project.workspace.stage("export", args) as run:
        result = _export(project, settings)
        run.counts = result.written
    return result


def _contradicted(
    known: pl.DataFrame, candidates: pl.DataFrame, tasks: dict[str, Task], resolved: pl.DataFrame
) -> int:
    """Candidates that trusted references would answer but for references that disagree on
    their input, and that people have not answered either."""
    frames = [
        contradicting_references(known, task)
        for task in tasks.values()
        if task.references in ("trust", "audit")
    ]
    if not frames:
        return 0
    waiting = candidates.join(pl.concat(frames), on="record_id", how="semi")
    return waiting.join(resolved.select("record_id"), on="record_id", how="anti").height


def _export(project: Project, settings: ExportSettings) -> ExportResult:
    workspace, config = project.workspace, project.config
    target = workspace.root / "exports" / settings.name
    if target.exists() and not target.is_dir():
        raise ExportError(
            f"{target} is a file, not an export folder: move it, or pick another --name"
        )
    if target.exists() and not settings.overwrite:
        raise ExportError(
            f"{target} holds an export already: pass --overwrite to replace it, or pick another "
            "--name"
        )
    _check_hf_dir(workspace, settings.hf_dir)
    tasks = project.tasks
    candidates, clusters, findings = (
        workspace.read_table(name, needed_by="curate export")
        for name in ("candidates", "clusters", "findings")
    )
    annotations = workspace.read_table("annotations", empty=True)
    # what people resolved, and what references answer ([tasks.NAME.answers]) where they did not
    resolved = workspace.read_table("resolved", empty=True).select("record_id", "question", "value")
    known = referenced_records(workspace)
    referenced = by_reference(known, candidates, tasks)
    referenced = referenced.filter(~pl.col("record_id").is_in(resolved["record_id"].implode()))
    contradicted = _contradicted(known, candidates, tasks, resolved)
    if referenced.height == 0 and not workspace.has_table("resolved"):
        workspace.read_table("resolved", needed_by="curate export")  # says what to run
    from_reference = set(referenced["record_id"])
    resolved = pl.concat([resolved, referenced.select(resolved.columns)])
    names = [settings.task] if settings.task else sorted(candidates["task"].unique().drop_nulls())
    if settings.task is not None:
        config.require_task(settings.task)
    answers = _answers(resolved)
    discarded = set(annotations.filter(pl.col("status") == "discarded")["record_id"])
    annotators = (
        annotations.filter(pl.col("status") == "submitted")
        .group_by("record_id")
        .agg(pl.col("username").unique().sort())
    )
    annotators_of = dict(annotators.iter_rows())
    detectors_of = dict(
        findings.group_by("record_id").agg(pl.col("detector").unique().sort()).iter_rows()
    )
    records = (
        workspace.scan_records()
        .join(candidates.lazy().select("record_id"), on="record_id", how="semi")
        .select("record_id", "task", "messages", "output", "tools", "metadata")
        .collect()
        .join(candidates.drop("task"), on="record_id")
        .join(
            clusters.select("record_id", pl.col("cluster_id").alias("near_duplicate_cluster")),
            on="record_id",
            how="left",
        )
    )
    result = ExportResult(folder=str(workspace.root / "exports" / settings.name))
    if contradicted:
        result.warnings.append(
            f"{contradicted} candidates have an input whose references disagree (one input, two "
            "answers): no reference answers them, so they are not exported until people label "
            "them (curate queue push) or the references are corrected"
        )
    excluded: Counter[str] = Counter()
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    encoding = tokenizer()
    exporter, openai = get_exporter(settings.format), get_exporter("openai")
    policies = {name: Policy.of(task) for name, task in tasks.items()}
    for record in (
        records.filter(pl.col("task").is_in(names)).sort("record_id").iter_rows(named=True)
    ):
        record_id, task = record["record_id"], tasks.get(record["task"])

        def drop(reason: str, record_id: str = record_id) -> None:
            excluded[reason.split(":")[0]] += 1
            result.excluded_records.append({"record_id": record_id, "reason": reason})

        mine = answers.get(record_id)
        if record_id in discarded:
            drop("discarded by an annotator")
            continue
        if record["triage"] in NOT_FOR_TRAINING and not settings.include_config_failures:
            drop(
                f"a {record['triage']} failure, fixed without training "
                "(--include-config-failures writes it)"
            )
            continue
        if not mine:
            drop("not resolved (unanswered, or annotators disagree)")
            continue
        control = mine.get(IS_FAILURE) == "no" or (
            record["is_control"] and mine.get(IS_FAILURE) != "yes"
        )
        if control and not settings.include_controls:
            drop("a control confirmed correct (use --include-controls)")
            continue
        if task is None:
            drop(f"task {record['task']!r} is not in curate.toml")
            continue
        answer, why = assistant_turn(task, mine, record["output"])
        if answer is None:
            drop(f"invalid: {why}")
            continue
        messages = _messages(record["messages"], settings.system_prompt)
        policy = policies[record["task"]]
        if policy is not None and "export" in policy.where:
            messages, answer = _redacted(project, record, task, policy, messages, answer, result)
        example = openai.render(messages, answer)
        problem = check_openai_example(example)
        if problem:
            drop(f"invalid: {problem}")
            continue
        tokens = sum(len(encoding.encode(m["content"] or "")) + 4 for m in example["messages"]) + 2
        if tokens > settings.max_tokens:
            drop(f"too long: {tokens} tokens > {settings.max_tokens}")
            continue
        key = hashlib.sha256(json.dumps(example, sort_keys=True).encode()).hexdigest()
        if key in seen:
            drop("duplicate of another example")
            continue
        seen.add(key)
        rows.append(
            {
                "record_id": record_id,
                "task": record["task"],
                "class": mine.get(LABEL) or record["class"],
                "failure_type": record["failure_type"],
                "triage": record["triage"],
                "edge_case": record["edge_case"],
                "cluster_id": record["near_duplicate_cluster"] or record["cluster_id"],
                "source": "reference" if record_id in from_reference else "people",
                "tokens": tokens,
                "example": exporter.render(messages, answer),
                "detectors": detectors_of.get(record_id, []),
                "annotators": annotators_of.get(record_id, []),
            }
        )
    result.excluded = dict(excluded)
    if len(rows) < MIN_EXAMPLES:
        if not settings.allow_small:
            left_out = ", ".join(f"{n} {why}" for why, n in sorted(excluded.items()))
            raise TooFewExamples(
                f"only {len(rows)} examples to export (left out: {left_out or 'none'}): OpenAI "
                f"fine-tuning refuses a file of fewer than {MIN_EXAMPLES}. Label more, or pass "
                "--allow-small to write them anyway."
            )
        result.warnings.append(
            f"only {len(rows)} examples: OpenAI fine-tuning needs at least {MIN_EXAMPLES}; "
            "label more"
        )
    _split(rows, settings.validation_fraction, settings.seed)
    _write(workspace, config, settings, rows, result)
    return result


def _check_hf_dir(workspace: Workspace, hf_dir: Path | None) -> None:
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
    return "".join(json.dumps(r["example"], ensure_ascii=False) + "\n" for r in rows).encode()


def _write(
    workspace: Workspace,
    config: Config,
    settings: ExportSettings,
    rows: list[dict[str, Any]],
    result: ExportResult,
) -> None:
    final = Path(result.folder)
    # written aside, then swapped in whole: a failed export leaves the old one as it was
    folder = final.with_name(f".{final.name}.tmp-{os.getpid()}")
    shutil.rmtree(folder, ignore_errors=True)
    try:
        folder.mkdir(parents=True)
    except OSError as exc:
        raise ExportError(
            f"cannot write the export under {final.parent} ({exc.strerror}): check that the "
            "folder is writable, or point --workspace at one that is"
        ) from None
    splits = {s: [r for r in rows if r["split"] == s] for s in ("train", "validation")}
    for split, members in splits.items():
        atomic_write_bytes(folder / f"{split}.jsonl", _jsonl(members))
        result.written[split] = len(members)
    tokens = sorted(r["tokens"] for r in rows)
    if tokens:
        result.tokens = {
            "tokenizer": TOKENIZER,
            "total": sum(tokens),
            "mean": round(sum(tokens) / len(tokens), 1),
            "p50": tokens[len(tokens) // 2],
            "p95": tokens[min(len(tokens) - 1, int(len(tokens) * 0.95))],
            "max": tokens[-1],
        }
    config_hash = hashlib.sha256(config.path.read_bytes()).hexdigest() if config.path else None
    manifest = {
        "created_at": now_utc().isoformat(),
        "format": settings.format,
        "config_sha256": config_hash,
        "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(settings).items()},
        "counts": {"written": result.written, "excluded": result.excluded},
        "tokens": result.tokens,
        "redacted": result.redacted,
        "examples": [
            {
                "split": r["split"],
                "line": i + 1,
                "record_id": r["record_id"],
                "task": r["task"],
                "class": r["class"],
                "failure_type": r["failure_type"],
                "triage": r["triage"],
                "edge_case": r["edge_case"],
                "cluster_id": r["cluster_id"],
                "detectors": r["detectors"],
                "annotators": r["annotators"],
                "source": r["source"],
                "tokens": r["tokens"],
            }
            for split in ("train", "validation")
            for i, r in enumerate(splits[split])
        ],
        "excluded": result.excluded_records,
    }
    atomic_write_bytes(folder / "manifest.json", json.dumps(manifest, indent=2).encode())
    atomic_write_bytes(folder / "README.md", _card(settings, rows, result).encode())
    old = final.with_name(f".{final.name}.old-{os.getpid()}")
    if final.exists():
        os.replace(final, old)
    os.replace(folder, final)
    shutil.rmtree(old, ignore_errors=True)
    if settings.hf_dir is not None or settings.push_to_hub:
        import datasets

        dataset = datasets.DatasetDict(
            {
                split: datasets.Dataset.from_list([r["example"] for r in members])
                for split, members in splits.items()
            }
        )
        if settings.hf_dir is not None:
            dataset.save_to_disk(str(settings.hf_dir))
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
    return f"""# {settings.name}

Supervised fine-tuning data made by curate from the failures of a prompted model: each example
is an input the model got wrong, with the output people corrected in Argilla.

- format: `{settings.format}`; files: `train.jsonl` ({result.written.get("train", 0)} examples),
  `validation.jsonl` ({result.written.get("validation", 0)} examples)
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
