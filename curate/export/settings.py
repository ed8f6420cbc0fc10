"""What `curate export` is asked (ExportSettings: the CLI's options and their defaults) and
what it answers (ExportResult)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MIN_EXAMPLES = 10  # OpenAI's fine-tuning minimum


@dataclass
class ExportSettings:
    name: str = "sft"
    task: str | None = None
    format: str | None = None  # None: openai, or the trainer's supervised format (--for)
    trainer: str | None = None  # --for: trl, axolotl, llama-factory (export/trainers.py)
    system_prompt: str | None = None
    include_controls: bool = False
    validation_fraction: float = 0.1
    # --eval: this share of the failures, in whole clusters, held out as a test split with a
    # promptfoo suite (export/suite.py); 0: no test split
    eval_fraction: float = 0.0
    seed: int = 0
    max_tokens: int = 16_384
    hf_dir: Path | None = None
    check_template: Path | None = None  # a tokenizer folder: render every example with it
    max_suspicion: float | None = None  # leave out labels more suspect than this (curate review)
    push_to_hub: str | None = None
    overwrite: bool = False  # replace an existing exports/NAME/
    allow_small: bool = False  # write fewer than MIN_EXAMPLES examples (OpenAI refuses them)
    include_config_failures: bool = False  # config / infrastructure failures (triage.py)


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
    # --check-template: the tokenizer folder, and per split: examples, tokens, the longest
    template: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dict(vars(self))
