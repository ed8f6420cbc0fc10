"""The stages' commands: init, ingest, detect, balance, suggest, redact, export, report, run.
Each parses its options, calls the library and hands the result to render.py (or prints it as
JSON with --json). Heavy imports happen inside the commands so that `curate --help` is instant.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from curate.balance.settings import BalanceSettings, ClusterSettings
from curate.cli.options import (
    CONFIG_FAILURES,
    COUNT,
    SEED,
    SHARE,
    State,
    command,
    engine_options,
    progress,
    show,
)
from curate.export.settings import ExportSettings
from curate.export.trainers import TRAINERS

COMMANDS: list[click.Command] = []


@command(COMMANDS)
@click.argument("directory", default=".", type=click.Path(file_okay=False))
def init(state: State, directory: str, json_mode: bool) -> None:
    """Write a commented curate.toml and an empty workspace in DIRECTORY.

    An existing curate.toml is left as it is.
    """
    from curate.cli import render
    from curate.core.project import init_project

    result = init_project(directory, state.workspace_arg)
    show(json_mode, result, render.init, result)


@command(COMMANDS)
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option(
    "--format",
    "format_name",
    default="auto",
    show_default=True,
    metavar="NAME",
    help="Log format; `auto` detects it from the content. See `curate formats`.",
)
@click.option(
    "--task", metavar="NAME", help="Task of these records (a [tasks.NAME] in curate.toml)."
)
@click.option(
    "--references",
    metavar="FILE",
    type=click.Path(dir_okay=False),
    help="CSV/JSONL/Parquet with columns id, reference: the known answer per source_id.",
)
@click.option(
    "--map",
    "maps",
    multiple=True,
    metavar="FIELD=COLUMN",
    help="Read any JSONL/CSV/Parquet as a table: --map input=question --map output=answer.",
)
@engine_options
def ingest(
    state: State,
    json_mode: bool,
    paths,
    maps,
    engine: str | None,
    ray_address: str | None,
    **options: Any,
) -> None:
    """Read log files into canonical records (gzip fine; formats detected from content).

    \b
    Formats: OpenAI chat completions logs, OpenAI Batch API output (+ its input file),
    Langfuse and LangSmith exports, OpenTelemetry GenAI spans (OTLP JSON), LiteLLM
    StandardLoggingPayload, VCR cassettes, and any JSONL/CSV/Parquet with --map.

    \b
    Lines that cannot be read go to the quarantine table with file, line and reason; ingest
    goes on and counts them. Ingesting the same file again adds nothing.

    \b
    PATHS may be globs, expanded by curate (quote them: no shell limit on thousands of files),
    and s3:// URLs or globs (credentials from AWS_*; [engine.s3] endpoint_url for MinIO etc.).
    --engine daft reads many files at once, on all cores or on a Ray cluster.

    \b
    Examples:
      curate ingest logs/2026-11-*.jsonl.gz --task entity_match
      curate ingest 's3://my-logs/2026/11/**/*.jsonl.gz' --engine daft
      curate ingest batch_output.jsonl batch_input.jsonl --references answers.csv
      curate ingest reviews.csv --map input=question --map output=answer --map reference=label
    """
    from curate.cli import render
    from curate.ingest.formats.table import parse_map
    from curate.ingest.stage import ingest_logs

    project = state.project()
    _, bars = progress(json_mode)
    with bars as on_progress:
        result = ingest_logs(
            project,
            paths,
            field_map=parse_map(maps),
            progress=on_progress,
            engine=project.engine(engine, ray_address),
            **options,
        )
    show(json_mode, result, render.ingest, result, project.workspace)


@command(COMMANDS)
@click.option(
    "--only",
    metavar="NAME,...",
    help="Run only these detectors (their earlier findings are replaced, the others kept).",
)
@engine_options
def detect(
    state: State, only: str | None, engine: str | None, ray_address: str | None, json_mode: bool
) -> None:
    """Run the failure detectors over the ingested records and write `findings`.

    \b
    Each detector checks the records of the tasks it applies to (see `curate detectors`;
    settings under [detectors.NAME] in curate.toml). Prints, per detector, how many records
    failed and at what rate, then the same by task, model and prompt_version.

    \b
    Examples:
      curate detect
      curate detect --only truncated,refusal --json
      curate detect --engine daft --ray-address 127.0.0.1:6379
      curate failures --detector label_out_of_vocab
    """
    from curate.cli import render
    from curate.detect.stage import find_failures

    names = [n.strip() for n in only.split(",") if n.strip()] if only else None
    project = state.project()
    result = find_failures(project, only=names, engine=project.engine(engine, ray_address))
    show(json_mode, result, render.detect, result)


@command(COMMANDS)
@click.option(
    "--target",
    default=BalanceSettings.target,
    show_default=True,
    type=COUNT,
    help="How many to choose per task.",
)
@click.option(
    "--seed",
    default=BalanceSettings.seed,
    show_default=True,
    type=SEED,
    help="The same seed gives the same choice (0 to 4294967295).",
)
@click.option(
    "--class-ratio",
    metavar="CLASS=SHARE,...",
    help="Share of each class among the chosen failures (default: the labels in equal shares).",
)
@click.option(
    "--max-per-cluster",
    default=BalanceSettings.max_per_cluster,
    show_default=True,
    type=COUNT,
    help="At most K near-duplicates.",
)
@click.option(
    "--controls",
    default=BalanceSettings.controls,
    show_default=True,
    type=SHARE,
    help="Share of records that passed every detector, added after the failures.",
)
@click.option(
    "--quota",
    "quotas",
    multiple=True,
    metavar="KEY=VALUE=SHARE",
    help="Reserve a share for a class, failure_type or edge_case: edge_case=nickname=0.1.",
)
@click.option("--task", metavar="NAME", help="Only this task (default: every task of curate.toml).")
@click.option(
    "--cutoff",
    default=ClusterSettings.cutoff,
    show_default=True,
    type=click.FloatRange(0, 100),
    help="Near-duplicate cutoff (rapidfuzz 0-100).",
)
@click.option("--include-config-failures", is_flag=True, help=CONFIG_FAILURES)
@engine_options
def balance(
    state: State,
    json_mode: bool,
    class_ratio: str | None,
    quotas,
    cutoff: float,
    engine: str | None,
    ray_address: str | None,
    **options: Any,
) -> None:
    """Choose the records worth labelling: balanced, hard cases kept, near-duplicates collapsed.

    \b
    Clusters near-duplicate inputs, tags the edge cases of entity pairs (nicknames, swapped
    names, partial dates, ...), then picks --target records per task: the failures first,
    balanced across classes (the known reference, else the model's label) and spread over
    the strata class x failure type x edge case, then --controls. Writes the candidates,
    clusters and tags tables and says what it could not fill, and why.

    \b
    Examples:
      curate balance --target 1000 --seed 7
      curate balance --class-ratio match=0.5,non_match=0.5 --quota edge_case=nickname=0.1
    """
    from curate.balance.settings import Quota
    from curate.balance.stage import balance_candidates, parse_ratio
    from curate.cli import render

    settings = BalanceSettings(
        class_ratio=parse_ratio(class_ratio),
        quotas=[Quota.parse(q) for q in quotas],
        cluster=ClusterSettings(cutoff=cutoff),
        **options,
    )
    project = state.project()
    result = balance_candidates(project, settings, engine=project.engine(engine, ray_address))
    show(json_mode, result, render.balance, result)


@command(COMMANDS)
@click.option("--task", metavar="NAME", help="Only this task's candidates.")
def suggest(state: State, task: str | None, json_mode: bool) -> None:
    """Ask a judge model to pre-label the candidates; `queue push` shows its answers.

    \b
    The judge is any OpenAI-compatible endpoint, set in curate.toml:
      [judge]
      base_url = "http://127.0.0.1:8000/v1"
      model = "qwen2.5-7b-instruct"
      api_key_env = "JUDGE_API_KEY"     # optional
      budget_calls = 2000               # optional; budget_tokens too
    Answers are cached in the workspace: asking again costs nothing. After labelling,
    `curate queue pull` says how often the judge agreed with people, and above which score.
    """
    from curate.cli import render
    from curate.queue.judge import suggest as run_suggest

    _, bars = progress(json_mode)
    with bars as on_progress:
        result = run_suggest(state.project(), task=task, progress=on_progress)
    show(json_mode, result, render.suggested, result)


@command(COMMANDS)
@click.option("--preview", is_flag=True, help="Show what would be replaced (writes nothing).")
@click.option("--task", metavar="NAME", help="Only this task's candidates.")
@click.option("--limit", default=5, show_default=True, type=COUNT, help="Examples to show.")
def redact(state: State, preview: bool, task: str | None, limit: int, json_mode: bool) -> None:
    """Personal data in the candidates, by each task's [tasks.NAME.redact] policy.

    \b
    Redaction itself happens where the policy says: at `queue push` (what annotators see)
    and `export` (the training set); the values behind the placeholders stay in the
    workspace's redaction/mapping.jsonl. --preview counts what would be replaced, by
    entity type and task, and shows examples before and after.
    """
    from curate.cli import render
    from curate.queue.preview import redaction_preview

    if not preview:
        raise click.UsageError("add --preview: redaction itself happens at push and export")
    data = redaction_preview(state.project(), task=task, limit=limit)
    show(json_mode, data, render.redaction, data)


@command(COMMANDS)
@click.option(
    "--name", default=ExportSettings.name, show_default=True, help="Folder under exports/."
)
@click.option("--task", metavar="NAME", help="Only this task.")
@click.option(
    "--format",
    "format_name",
    metavar="FORMAT",
    help="How each example is written: openai (the default), prompt-completion, sharegpt, "
    "alpaca; preference pairs: dpo, openai-preference, kto, sharegpt-dpo, sharegpt-kto; "
    "prompts with rewards.py: grpo; or a "
    "plugin's (`curate formats` lists them). With --for, the trainer's supervised format.",
)
@click.option(
    "--for",
    "trainer",
    type=click.Choice(list(TRAINERS)),
    help="Write what this trainer needs to load the data unchanged, beside it: trl.yaml, "
    "axolotl.yaml, or LLaMA-Factory's dataset_info.json and llamafactory.yaml.",
)
@click.option(
    "--system-prompt",
    type=click.Path(exists=True, dir_okay=False),
    help="A file with a short system prompt to use instead of the production one.",
)
@click.option("--include-controls", is_flag=True, help="Also records annotators confirmed correct.")
@click.option(
    "--validation-fraction",
    default=ExportSettings.validation_fraction,
    show_default=True,
    type=SHARE,
    help="Validation share.",
)
@click.option(
    "--eval",
    "eval_split",
    is_flag=True,
    help="Hold out whole clusters of failures as a test split, with a promptfoo suite in "
    "exports/NAME/eval/ (its assertion: curate's own detectors).",
)
@click.option(
    "--eval-fraction",
    default=0.1,
    show_default=True,
    type=SHARE,
    help="With --eval: the share of the failures held out.",
)
@click.option(
    "--seed", default=ExportSettings.seed, show_default=True, type=SEED, help="Seed of the split."
)
@click.option(
    "--max-tokens",
    default=ExportSettings.max_tokens,
    show_default=True,
    type=COUNT,
    help="Longer ones are left out.",
)
@click.option(
    "--hf", "hf_dir", type=click.Path(file_okay=False), help="Also save a DatasetDict here."
)
@click.option("--push-to-hub", metavar="REPO", help="Also push the DatasetDict to the Hub.")
@click.option(
    "--check-template",
    metavar="TOKENIZER_DIR",
    type=click.Path(file_okay=False),
    help="Render every example with this local tokenizer's chat template: leave out those "
    "whose answer or end-of-turn token is not trained, or that --max-tokens would cut.",
)
@click.option("--overwrite", is_flag=True, help="Replace an existing exports/NAME/.")
@click.option(
    "--allow-small", is_flag=True, help="Write fewer than 10 examples (OpenAI refuses those)."
)
@click.option("--include-config-failures", is_flag=True, help=CONFIG_FAILURES)
@click.option(
    "--max-suspicion",
    type=SHARE,
    help="Leave out labels more suspect than this (0-1; `curate review` lists them and why).",
)
def export(state: State, json_mode: bool, system_prompt: str | None, **options: Any) -> None:
    """Write the corrected failures as SFT-ready JSONL, validated, split, with provenance.

    \b
    One example per resolved record: the original input (or --system-prompt instead of the
    production one) and the corrected output as the assistant turn (JSON re-serialized and
    checked against the task schema). Invalid, duplicate and too-long examples are listed with
    their reason and left out. Writes exports/NAME/{train,validation}.jsonl, manifest.json and
    a README.md dataset card.

    \b
    Examples:
      curate export --name em-v1 --validation-fraction 0.15 --seed 3
      curate export --format sharegpt --system-prompt short_prompt.txt --hf hf_dataset/
      curate export --name em-dpo --format dpo --for trl
      curate export --name em-lf --for llama-factory
      curate export --for trl --check-template ~/models/qwen2.5-0.5b-instruct
      curate export --name em-eval --eval    # then: promptfoo eval -c .../eval/promptfooconfig.yaml
    """
    from pathlib import Path

    from curate.cli import render
    from curate.core.text import read_text_file
    from curate.export.stage import export_dataset

    hf_dir = options.pop("hf_dir")
    template = options.pop("check_template")
    share, wanted = options.pop("eval_fraction"), options.pop("eval_split")
    settings = ExportSettings(
        eval_fraction=share if wanted else 0.0,
        check_template=Path(template) if template else None,
        format=options.pop("format_name"),
        system_prompt=read_text_file(system_prompt, "--system-prompt").strip()
        if system_prompt
        else None,
        hf_dir=Path(hf_dir) if hf_dir else None,
        **options,
    )
    result = export_dataset(state.project(), settings)
    show(json_mode, result, render.export, result)


@command(COMMANDS)
@click.option(
    "--html", "html_path", type=click.Path(dir_okay=False), help="Also write one HTML file."
)
@click.option(
    "--compare",
    nargs=2,
    metavar="A B",
    help="Before and after: two models, prompt versions, or periods (YYYY-MM-DD..YYYY-MM-DD).",
)
def report(
    state: State, html_path: str | None, compare: tuple[str, str] | None, json_mode: bool
) -> None:
    """Should we fine-tune yet, and on what? Failure trends, readiness, the cost case.

    \b
    Failure rates per detector over time and per prompt_version, with a verdict on whether
    prompting has plateaued; the training set against its target ([report] target, default
    1000 labelled examples, balanced, every edge case covered) and what is missing; prompt
    tokens per call, the system prompt's share, tokens and cost per million calls now and
    with a short prompt after fine-tuning ([report.prices]), and prefill latency against
    prompt length fitted from the logs. What would fix the failing calls: the share each
    lever (configuration, serving, prompt, structured outputs, fine-tuning) would remove.

    \b
    With --compare A B: failure rates of A and B per detector, triage class and edge case,
    with intervals, McNemar's test on the inputs both answered, and a verdict per row (fixed,
    improved, unchanged, worse): did the fine-tuned model fix what broke?

    \b
    Examples:
      curate report --html report.html
      curate report --compare gpt-4o-mini my-finetuned-model
      curate report --compare 2026-10-01..2026-10-31 2026-11-01..2026-11-30
    """
    from pathlib import Path

    from curate.cli.report import report as render_report
    from curate.report.html import write_html
    from curate.report.stage import build_report, public

    data = build_report(state.project(), compare_with=compare or None)
    if html_path:
        write_html(Path(html_path), data)
    show(json_mode, public(data), render_report, data, html_path)


@command(COMMANDS, name="run")
def run_command(state: State, json_mode: bool) -> None:
    """The whole job: ingest, detect, balance, push; then pull and export once labelled.

    \b
    Pulls what is new from the trace stores of [[pulls]] (see `curate pull`), then reads the
    logs listed as [[sources]] in curate.toml. Each stage is skipped when its
    inputs have not changed since its last run (the manifest keeps their fingerprints), so
    running it again after labelling pulls the answers and writes the training set.
    Argilla: the local stack (`curate argilla up`) or ARGILLA_API_URL / ARGILLA_API_KEY.
    """
    from curate.cli import render
    from curate.queue.stage import connection
    from curate.run import run_pipeline

    project = state.project()
    console, bars = progress(json_mode)
    with bars as on_progress:
        result = run_pipeline(project, say=console.print, progress=on_progress)
    show(json_mode, result, render.run, result, connection(project.config)[0])
    if result.failed:
        sys.exit(1)
