"""Verifiable rewards: curate's detectors, scoring completions (`curate export --format grpo`).

One definition serves as detector, reward and eval metric. A completion is read as a record
whose output it is, with the known answer as its reference, and the task's own detectors run on
it (the same `detect_partition` as `curate detect`):

- `correct`: 1.0 where the answer read as the task reads it (the label by its terms, JSON as
  values, text folded) equals the known one: reference_mismatch finds nothing and the answer
  could be read at all (no invalid_json, label_unparseable, empty_output or refusal);
- `well_formed`: 1.0 where no format detector finds anything (invalid_json, schema_violation,
  label_out_of_vocab, label_unparseable, empty_output, refusal);
- `complete`: 1.0 where truncated finds nothing (cut inside JSON or a code block; a completion
  has no finish_reason, so a cut the text cannot show is not seen).

Each function follows TRL's reward-function signature, `f(completions, **kwargs) -> list[float]`,
with the dataset's `task` and `answer` columns as keyword arguments; completions may be text or
conversational ([{"role": "assistant", "content": ...}]). The generated `rewards.py` of an
export binds them to the export's tasks (each as the data of its Task, schema inline) and
detector settings (`Rewards.from_export`).
"""

from __future__ import annotations

from typing import Any

import polars as pl

from curate.core.records import RECORD_SCHEMA
from curate.core.tasks import Task
from curate.detect.detectors import available
from curate.detect.stage import detect_partition

CORRECT_BLOCKERS = ("invalid_json", "label_unparseable", "empty_output", "refusal")
FORMAT = ("invalid_json", "schema_violation", "label_out_of_vocab", *CORRECT_BLOCKERS[1:])
CUT = ("truncated",)
USED = ("reference_mismatch", *FORMAT, *CUT)


def _text(completion: Any) -> str | None:
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list) and completion and isinstance(completion[-1], dict):
        return completion[-1].get("content")
    if isinstance(completion, dict):
        return completion.get("content")
    return None


class Rewards:
    def __init__(self, tasks: dict[str, Task], detector_settings: dict[str, Any]):
        self.tasks = tasks
        registry = available()
        self.detectors = [registry[n](detector_settings.get(n)) for n in USED if n in registry]

    @classmethod
    def from_export(cls, tasks: dict[str, dict[str, Any]], detectors: dict[str, Any]) -> Rewards:
        return cls({name: Task(**spec) for name, spec in tasks.items()}, detectors)

    def findings(
        self, completions: list[Any], task: list[str], answer: list[Any]
    ) -> list[set[str]]:
        """The detectors that find something in each completion."""
        n = len(completions)
        rows = {name: [None] * n for name in RECORD_SCHEMA.names()}
        rows |= {
            "record_id": [str(i) for i in range(n)],
            "task": list(task),
            "output": [_text(c) for c in completions],
            "reference": [None if a is None else str(a) for a in answer],
            "messages": [[] for _ in range(n)],
        }
        records = pl.DataFrame(rows, schema=RECORD_SCHEMA)
        found = detect_partition(records, self.tasks, self.detectors)["findings"]
        out: list[set[str]] = [set() for _ in range(n)]
        for record_id, detector in found.select("record_id", "detector").iter_rows():
            out[int(record_id)].add(detector)
        return out

    def correct(self, completions, task, answer, **kwargs) -> list[float]:
        blockers = {"reference_mismatch", *CORRECT_BLOCKERS}
        return [0.0 if f & blockers else 1.0 for f in self.findings(completions, task, answer)]

    def well_formed(self, completions, task, answer, **kwargs) -> list[float]:
        return [0.0 if f & set(FORMAT) else 1.0 for f in self.findings(completions, task, answer)]

    def complete(self, completions, task, answer, **kwargs) -> list[float]:
        return [0.0 if f & set(CUT) else 1.0 for f in self.findings(completions, task, answer)]


__all__ = ["Rewards"]
