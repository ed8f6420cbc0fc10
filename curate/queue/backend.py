"""What curate needs of an annotation queue, and the questions it asks on every record.

The stage (curate.queue.stage) talks to a queue only through these methods; `ArgillaQueue`
(curate.queue.argilla) is the real one, `MemoryQueue` (curate.queue.memory) an in-memory one
for tests of the push / pull / resolve logic. Records travel as plain dicts:
{"id", "fields", "metadata", "suggestions"} (see curate.queue.argilla.render_record).
"""

from __future__ import annotations

from typing import Any, Protocol

from curate.core.tables import CORRECTED, IS_FAILURE, LABEL
from curate.core.tasks import Task


class QueueBackend(Protocol):
    url: str

    def users(self) -> dict[str, str]:
        """user id -> user name."""
        ...

    def dataset(self, name: str) -> Any | None:
        """The dataset called `name`, or None."""
        ...

    def create_dataset(self, name: str, task: Task, min_submitted: int) -> Any:
        """A new dataset asking the task's questions (questions_for)."""
        ...

    def questions(self, dataset: Any) -> dict[str, list[str] | None]:
        """question name -> its labels (None for a text question)."""
        ...

    def log(self, dataset: Any, records: list[dict[str, Any]]) -> None:
        """Upsert records by id: an id already there is updated, never duplicated."""
        ...

    def records(self, dataset: Any) -> list[dict[str, Any]]:
        """Every record: external_id, status, responses (user_id, status, values, updated_at)."""
        ...


def questions_for(task: Task) -> dict[str, list[str] | None]:
    """The questions of a task's dataset: name -> labels (None for a text question)."""
    questions: dict[str, list[str] | None] = {}
    if task.has_labels:
        questions[LABEL] = list(task.labels)
    questions[CORRECTED] = None
    questions[IS_FAILURE] = ["yes", "no"]
    return questions
