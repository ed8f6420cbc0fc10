"""An in-memory annotation queue (a QueueBackend), for tests of the push / pull / resolve logic.

The tests that try every stage on degenerate workspaces use it, and so can a plugin's tests;
what Argilla itself does is tested against the real server in tests/integration/. It also does
what a person would do in the UI: `answer_all`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from curate.queue.backend import questions_for


@dataclass
class _Dataset:
    name: str
    id: str
    questions: dict[str, list[str] | None]
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    min_submitted: int = 1


class MemoryQueue:
    url = "memory://queue"

    def __init__(self) -> None:
        self.datasets: dict[str, _Dataset] = {}
        self._ids = itertools.count(1)

    # -- what curate calls -----------------------------------------------------------------
    def users(self) -> dict[str, str]:
        return {"u1": "ann", "u2": "lead"}

    def dataset(self, name: str) -> _Dataset | None:
        return self.datasets.get(name)

    def create_dataset(self, name: str, task: Any, min_submitted: int) -> _Dataset:
        self.datasets[name] = _Dataset(
            name, f"ds-{next(self._ids)}", questions_for(task), min_submitted=min_submitted
        )
        return self.datasets[name]

    def questions(self, dataset: _Dataset) -> dict[str, list[str] | None]:
        return dict(dataset.questions)

    def log(self, dataset: _Dataset, records: list[dict[str, Any]]) -> None:
        for record in records:
            kept = dataset.records.get(record["id"], {}).get("responses", [])
            dataset.records[record["id"]] = {
                "external_id": record["id"],
                "status": "pending",
                "fields": dict(record["fields"]),
                "suggestions": dict(record.get("suggestions") or {}),
                "responses": kept,
            }

    def records(self, dataset: _Dataset) -> list[dict[str, Any]]:
        return list(dataset.records.values())

    # -- what a person would do in the UI ----------------------------------------------------
    def answer_all(self, values_of) -> int:
        """Every pending record answered by user u1: values_of(record) -> {question: value}."""
        answered = 0
        for dataset in self.datasets.values():
            for record in dataset.records.values():
                if record["responses"]:
                    continue
                values = {q: {"value": v} for q, v in values_of(dataset, record).items()}
                record["responses"].append(
                    {
                        "user_id": "u1",
                        "status": "submitted",
                        "values": values,
                        "updated_at": "2026-11-28T12:00:00",
                    }
                )
                record["status"] = "completed"
                answered += 1
        return answered


_SHARED: dict[str, MemoryQueue] = {}


def connect(config: Any) -> MemoryQueue:
    """`[queue] backend = "memory"`: one in-memory queue per curate.toml in this process, so that
    what one command pushes the next pulls (tests of the command line); gone with the process."""
    key = str(config.path.resolve()) if config.path else ""
    return _SHARED.setdefault(key, MemoryQueue())
