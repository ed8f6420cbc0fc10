"""The balance stage: choose the records worth labelling.

1. Near-duplicate clusters of the inputs (curate.balance.cluster): table `clusters`.
2. Edge-case tags of entity pairs (curate.balance.edge_cases): table `tags`.
3. A seeded, stratified selection: strata are class x failure type x edge case; failures first
   (quotas, then the classes in the asked ratio, spread evenly over the strata), then controls
   (records that passed every detector) up to the asked share; at most K per cluster.
   Table `candidates`, with each row's stratum. What could not be filled is said, with why.

The class is the known reference when there is one, else the model's own label; for tasks
without labels (extraction, generation) the class is the failure type.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import polars as pl

from curate.balance.cluster import cluster_texts
from curate.balance.edge_cases import TAGS_SCHEMA, tag_pairs
from curate.balance.edge_cases import priority as edge_priority
from curate.balance.settings import BalanceResult, BalanceSettings, Quota
from curate.core.config import SEED_MAX, check_range
from curate.core.engine import Engine
from curate.core.errors import ConfigError, CurateError
from curate.core.project import Project
from curate.core.records import input_text
from curate.core.tables import NOT_HARD
from curate.core.tasks import Task
from curate.core.triage import NOT_FOR_TRAINING, record_triage

SEVERITY_RANK = {"high": 0, "medium": 1, "low": 2}
CONTROL = "control"  # the failure type of records that passed every detector
UNKNOWN = "unknown"  # the class of a failure with no label read and no reference


def parse_ratio(text: str | None) -> dict[str, float] | None:
    """'match=0.5,non_match=0.5' -> {'match': 0.5, 'non_match': 0.5} (normalized to sum 1)."""
    if not text:
        return None
    ratio = {}
    for part in text.split(","):
        name, sep, value = part.partition("=")
        try:
            ratio[name.strip()] = float(value)
        except ValueError:
            raise ConfigError(
                f"--class-ratio {text!r}: write CLASS=SHARE,... e.g. match=0.5,non_match=0.5"
            ) from None
        if not sep or ratio[name.strip()] < 0:
            raise ConfigError(f"--class-ratio {text!r}: write CLASS=SHARE,... with shares >= 0")
    total = sum(ratio.values())
    if total <= 0:
        raise ConfigError(f"--class-ratio {text!r}: the shares add up to 0")
    return {k: v / total for k, v in ratio.items()}


# -- the inputs of the selection ---------------------------------------------------------------


def _unit_text(task: Task | None) -> pl.Expr:
    """What near-duplicates are judged on: the unordered pair for entity pairs, else the input."""
    pair = task.pair if task is not None else {}
    if task is not None and task.kind == "pair_match" and pair.get("left") and pair.get("right"):
        sides = []
        for path in (pair["left"], pair["right"]):
            column, _, rest = path.partition(".")
            sides.append(pl.col(column).str.json_path_match(f"$.{rest}" if rest else "$"))
        both = pl.concat_list(sides).list.drop_nulls()
        return pl.coalesce(
            pl.when(both.list.len() > 0).then(both.list.sort().list.join(" | ")), input_text()
        )
    return input_text()


def _primary_failures(findings: pl.DataFrame) -> pl.DataFrame:
    """record_id -> its most severe failure type (and all its failure types)."""
    ranked = findings.with_columns(
        pl.col("severity").replace_strict(SEVERITY_RANK, default=3).alias("_rank")
    ).sort("_rank", "failure_type")
    return ranked.group_by("record_id", maintain_order=True).agg(
        pl.col("failure_type").first().alias("failure_type"),
        pl.col("failure_type").unique().sort().alias("failure_types"),
    )


def _primary_edge(tags: pl.DataFrame) -> pl.DataFrame:
    """record_id -> its edge case (the most telling, edge_cases.priority) and all its hard
    tags."""
    hard = tags.filter(~pl.col("tag").is_in(NOT_HARD))
    priority = {tag: i for i, tag in enumerate(edge_priority())}
    return (
        hard.with_columns(pl.col("tag").replace_strict(priority, default=len(priority)).alias("_p"))
        .sort("_p", "tag")
        .group_by("record_id", maintain_order=True)
        .agg(
            pl.col("tag").first().alias("edge_case"),
            pl.col("tag").unique().sort().alias("edge_cases"),
        )
    )


# -- the selection -------------------------------------------------------------------------------


def _targets(total: int, ratio: dict[str, float]) -> dict[str, int]:
    """Whole numbers in the ratio that add up to total (largest remainders)."""
    raw = {k: total * v for k, v in ratio.items()}
    out = {k: int(v) for k, v in raw.items()}
    for k in sorted(raw, key=lambda k: raw[k] - out[k], reverse=True)[: total - sum(out.values())]:
        out[k] += 1
    return out


def _ordered(pool: pl.DataFrame, seed: int) -> list[dict[str, Any]]:
    """The pool shuffled (seeded), then dealt round-robin over the strata: the first rows
    cover every stratum before any stratum gets a second row."""
    if pool.height == 0:
        return []
    shuffled = pool.sort("record_id").sample(fraction=1.0, shuffle=True, seed=seed)
    dealt = shuffled.with_columns(pl.int_range(pl.len()).over("stratum").alias("_turn"))
    return dealt.with_row_index("_draw").sort("_turn", "_draw").drop("_turn", "_draw").to_dicts()


class _Selection:
    """The rows chosen so far, in order: each record once, at most K per cluster."""

    def __init__(self, max_per_cluster: int):
        self.max_per_cluster = max_per_cluster
        self.chosen: list[dict[str, Any]] = []
        self.taken: set[str] = set()
        self.per_cluster: Counter[str] = Counter()

    def take(
        self, rows, want: int, per_class: Counter, caps: dict[str, int], why: str, match=None
    ) -> int:
        """Walk `rows` in order, keeping those the caps allow, until `want` are kept."""
        got = 0
        for row in rows:
            if got >= want:
                break
            if row["record_id"] in self.taken or (match is not None and not match(row)):
                continue
            if per_class[row["class"]] >= caps.get(row["class"], 0):
                continue
            if self.per_cluster[row["cluster_id"]] >= self.max_per_cluster:
                continue
            self.taken.add(row["record_id"])
            per_class[row["class"]] += 1
            self.per_cluster[row["cluster_id"]] += 1
            self.chosen.append({**row, "selected_by": why, "rank": len(self.chosen) + 1})
            got += 1
        return got


def _failure_targets(
    failing: pl.DataFrame, n_failures: int, ratio: dict[str, float]
) -> dict[str, int]:
    """Failures to choose per class, in the ratio; failures whose class nobody knows yet (broken
    JSON, no reference) keep their share of the failures, outside the balance of the classes."""
    unknown_failures = failing.filter(pl.col("class") == UNKNOWN).height
    if UNKNOWN in ratio or not unknown_failures:
        return _targets(n_failures, ratio)
    unknown_target = round(n_failures * unknown_failures / failing.height)
    return _targets(n_failures - unknown_target, ratio) | {UNKNOWN: unknown_target}


def _take_quotas(
    selection: _Selection,
    failures: list[dict[str, Any]],
    settings: BalanceSettings,
    ratio: dict[str, float],
    per_class: Counter[str],
    caps: dict[str, int],
    has_tags: bool,
) -> list[str]:
    """The quotas' rows, first: a class quota as asked, others spread over the classes in the
    asked ratio; what could not be filled."""
    shortfalls = []
    for quota in settings.quotas:
        if quota.key == "class":
            wants = {quota.value: round(settings.target * quota.share)}
        elif quota.key == "edge_case" and not has_tags:
            continue
        else:  # spread over the classes in the asked ratio
            wants = {c: round(settings.target * quota.share * r) for c, r in ratio.items()}
        for cls, want in wants.items():

            def match(row, quota=quota, cls=cls):
                values = row["edge_cases"] if quota.key == "edge_case" else [row[quota.key]]
                return row["class"] == cls and quota.value in (values or [])

            why = f"quota {quota.key}={quota.value}"
            got = selection.take(failures, want, per_class, caps, why, match)
            if got < want:
                shortfalls.append(
                    f"{cls} x {quota.value}: wanted {want}, {got} available"
                    + ("" if got else f" (no failing {cls} record has {quota.key} {quota.value})")
                )
    return shortfalls


def select_candidates(
    pool: pl.DataFrame, settings: BalanceSettings, classes: list[str], has_tags: bool = True
) -> tuple[pl.DataFrame, list[str], dict[str, Any]]:
    """Seeded stratified selection from one task's pool (see the module docstring).

    Returns the selected rows, the shortfall lines, and the targets that were asked.
    """
    n_controls = round(settings.target * settings.controls)
    n_failures = settings.target - n_controls
    ratio = settings.class_ratio or {c: 1 / len(classes) for c in classes}
    strangers = sorted(set(ratio) - set(classes) - {UNKNOWN})
    shortfalls: list[str] = []
    if strangers:
        shortfalls.append(f"--class-ratio names {', '.join(strangers)}, which are not labels here")
    failure_targets = _failure_targets(pool.filter(~pl.col("is_control")), n_failures, ratio)
    control_classes = set(pool.filter(pl.col("is_control"))["class"])
    # controls of tasks without labels have no class of their own: one bucket
    control_ratio = ratio if control_classes & set(ratio) else {CONTROL: 1.0}
    control_targets = _targets(n_controls, control_ratio)
    selection = _Selection(settings.max_per_cluster)
    failures = _ordered(pool.filter(~pl.col("is_control")), settings.seed)
    controls = _ordered(pool.filter(pl.col("is_control")), settings.seed + 1)
    per_class: Counter[str] = Counter()
    shortfalls += _take_quotas(
        selection, failures, settings, ratio, per_class, failure_targets, has_tags
    )
    selection.take(failures, n_failures, per_class, failure_targets, "balance")
    for cls, want in failure_targets.items():
        if per_class[cls] < want:
            supply = sum(1 for r in failures if r["class"] == cls)
            shortfalls.append(
                f"{cls} failures: wanted {want}, {per_class[cls]} selected ({supply} failing "
                f"records of that class, at most {settings.max_per_cluster} per cluster)"
            )
    control_class: Counter[str] = Counter()
    selection.take(controls, n_controls, control_class, control_targets, "control")
    for cls, want in control_targets.items():
        if control_class[cls] < want:
            shortfalls.append(f"{cls} controls: wanted {want}, {control_class[cls]} available")
    selected = pl.DataFrame(
        selection.chosen, schema={**pool.schema, "selected_by": pl.String, "rank": pl.Int64}
    )
    return selected, shortfalls, {"failures": failure_targets, "controls": control_targets}


def _composition(frame: pl.DataFrame) -> dict[str, dict[str, int]]:
    return {
        column: {
            str(k): int(v)
            for k, v in frame.group_by(column).len().sort("len", descending=True).iter_rows()
        }
        for column in ("class", "failure_type", "edge_case")
    }


def balance_candidates(
    project: Project, settings: BalanceSettings, *, engine: Engine | None = None
) -> BalanceResult:
    """Cluster, tag and select; writes the clusters, tags and candidates tables.

    `engine` (default: the project's [engine]) says where the near-duplicate clustering runs;
    the clusters are the same."""
    workspace, config = project.workspace, project.config
    engine = engine or project.engine()
    _check(settings)
    workspace.require()
    findings = workspace.read_table("findings", needed_by="curate balance")
    tasks = project.tasks
    if settings.task is not None:
        config.require_task(settings.task)
    labels = workspace.read_table("labels", needed_by="curate balance").select("record_id", "class")
    result = BalanceResult()
    args = {
        "target": settings.target,
        "seed": settings.seed,
        "class_ratio": settings.class_ratio,
        "max_per_cluster": settings.max_per_cluster,
        "controls": settings.controls,
        "quotas": [vars(q) for q in settings.quotas],
        "task": settings.task,
    }
    with workspace.stage("balance", args) as run:
        columns = ["record_id", "task", "source_format", "messages", "metadata", "reference"]
        records = workspace.scan_records().select(*columns, "output").collect()
        result.records = records.height
        names = (
            [settings.task]
            if settings.task
            else sorted(t for t in records["task"].unique().drop_nulls() if t in tasks)
        )
        if not names:
            raise CurateError(
                "no records belong to a task of curate.toml: ingest with --task NAME (or add "
                "[tasks.NAME.match] rules), then run `curate detect` again"
            )
        cluster_frames, tag_frames, candidate_frames = [], [], []
        for name in names:
            task = tasks[name]
            # the class detect read for each record (null for a task without labels)
            mine = records.filter(pl.col("task") == name).join(
                labels, on="record_id", how="left", maintain_order="left"
            )
            clusters = _clusters(mine, task, settings, engine, result)
            cluster_frames.append(clusters.with_columns(pl.lit(name).alias("task")))
            tags = (
                tag_pairs(mine, task.pair)
                if task.kind == "pair_match" and task.pair
                else TAGS_SCHEMA.to_frame()
            )
            tag_frames.append(tags)
            candidates, summary = _balance_task(mine, task, clusters, tags, findings, settings)
            candidate_frames.append(candidates)
            result.tasks[name] = summary
        clusters_all = pl.concat(cluster_frames)
        result.clusters = clusters_all["cluster_id"].n_unique()
        run.write("clusters", clusters_all)
        run.write("tags", pl.concat(tag_frames))
        run.write("candidates", pl.concat(candidate_frames))
        run.counts = {name: s["selected"] for name, s in result.tasks.items()}
    return result


def _check(settings: BalanceSettings) -> None:
    check_range("--target", settings.target, 1)
    check_range("--seed", settings.seed, 0, SEED_MAX)
    check_range("--max-per-cluster", settings.max_per_cluster, 1)
    check_range("--controls", settings.controls, 0, 1, high_open=True)
    check_range("--cutoff", settings.cluster.cutoff, 0, 100)


def _clusters(
    mine: pl.DataFrame, task: Task, settings: BalanceSettings, engine: Engine, result
) -> pl.DataFrame:
    """(record_id, cluster_id, cluster_size) of one task's records: near-duplicate inputs
    share a cluster, named by its smallest record_id."""
    texts = mine.select(_unit_text(task).alias("t"))["t"]
    no_input = texts.fill_null("").str.strip_chars() == ""
    if no_input.any():
        result.warnings.append(_no_input_warning(task.name, mine, no_input))
    groups = cluster_texts(texts, settings.cluster, engine=engine)["group"]
    return (
        mine.select("record_id")
        .with_columns(groups.alias("_g"))
        .with_columns(
            pl.col("record_id").min().over("_g").alias("cluster_id"),
            pl.len().over("_g").alias("cluster_size"),
        )
        .drop("_g")
    )


def _no_input_warning(task: str, records: pl.DataFrame, no_input: pl.Series) -> str:
    """Why the records where `no_input` holds have no input text, and what to do about it."""
    why = "their logs carry no request messages"
    without = records.filter(no_input)
    if "source_format" in without.columns and (without["source_format"] == "openai_batch").any():
        why = (
            "Batch output without its input file has no prompt text: pass the input file too "
            "(curate ingest OUTPUT.jsonl INPUT.jsonl)"
        )
    return (
        f"{task}: {without.height} of {records.height} records have no input text ({why}); "
        "they are not clustered as near-duplicates of each other, and labelling them shows no input"
    )


def _balance_task(
    mine: pl.DataFrame,
    task: Task,
    clusters: pl.DataFrame,
    tags: pl.DataFrame,
    findings: pl.DataFrame,
    settings: BalanceSettings,
) -> tuple[pl.DataFrame, dict[str, Any]]:
    failures = _primary_failures(
        findings.filter(pl.col("record_id").is_in(mine["record_id"].implode()))
    )
    # a call that failed at the API has no answer to correct: not worth labelling
    only_api = failures.filter(pl.col("failure_types") == ["api_error"])["record_id"]
    triaged = record_triage(findings.filter(pl.col("record_id").is_in(mine["record_id"].implode())))
    not_for_training = triaged.filter(
        pl.col("triage").is_in(NOT_FOR_TRAINING) & ~pl.col("record_id").is_in(only_api.implode())
    )["record_id"]
    left_aside = (
        only_api if settings.include_config_failures else pl.concat([only_api, not_for_training])
    )
    pool = (
        mine.select("record_id", "class")
        .join(failures, on="record_id", how="left")
        .join(triaged, on="record_id", how="left")
        .join(_primary_edge(tags), on="record_id", how="left")
        .join(clusters.select("record_id", "cluster_id"), on="record_id")
        .filter(~pl.col("record_id").is_in(left_aside.implode()))
        .with_columns(
            pl.col("failure_type").is_null().alias("is_control"),
            pl.col("failure_type").fill_null(CONTROL),
            pl.col("edge_case").fill_null("none"),
            pl.lit(task.name).alias("task"),
        )
    )
    if not task.has_labels:
        pool = pool.with_columns(pl.col("failure_type").alias("class"))
    # a control with no label and no reference has nothing to balance on: left out, counted
    unclassed = pool.filter(pl.col("class").is_null() & pl.col("is_control"))
    pool = pool.filter(pl.col("class").is_not_null() | ~pl.col("is_control")).with_columns(
        pl.col("class").fill_null(UNKNOWN)
    )
    pool = pool.with_columns(
        pl.concat_str("class", "failure_type", "edge_case", separator=" x ").alias("stratum")
    )
    classes = task.labels if task.has_labels else sorted(set(pool["class"]) - {CONTROL})
    has_tags = tags.height > 0
    selected, shortfalls, targets = select_candidates(
        pool, settings, classes or ["(none)"], has_tags
    )
    if not has_tags and any(q.key == "edge_case" for q in settings.quotas):
        shortfalls.append(
            f"edge_case quotas do not apply to {task.name}: it has no pair fields to tag"
        )
    summary = {
        "pool": pool.height,
        "selected": selected.height,
        "failures_selected": int((~selected["is_control"]).sum()) if selected.height else 0,
        "controls_selected": int(selected["is_control"].sum()) if selected.height else 0,
        "targets": targets,
        "before": _composition(pool),
        "after": _composition(selected),
        "shortfalls": shortfalls,
        "left_out": {
            "api_error only (no answer to correct)": only_api.len(),
            "config or infrastructure failures, fixed without training "
            "(--include-config-failures brings them back)": 0
            if settings.include_config_failures
            else not_for_training.len(),
            "controls with no label read and no reference": unclassed.height,
        },
        "clusters": clusters["cluster_id"].n_unique(),
    }
    return selected, summary


__all__ = [
    "BalanceResult",
    "BalanceSettings",
    "Quota",
    "balance_candidates",
    "parse_ratio",
    "select_candidates",
]
