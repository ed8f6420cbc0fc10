"""`curate export --eval`: the held-out failures as a promptfoo suite, in exports/NAME/eval/.

The test split (whole near-duplicate clusters of failures, never in train or validation) is
written as the export format's test.jsonl and as a promptfoo suite:

- `promptfooconfig.yaml`: the prompt is the logged conversation (`{{ messages }}`, a JSON list
  of chat messages, which promptfoo sends as the chat), the provider the model that answered
  them in production (replace it with the fine-tuned one), and one assertion for every test;
- `tests.yaml`: one test per held-out record, its conversation, task and answer as vars and
  its record id as metadata; the conversation redacted where the task's redaction policy lists
  "eval" (the default), else as logged, so that the compare pairs it with the production call;
- `curate_assert.py`: the assertion, curate's own `correct` reward (the detectors, bound to the
  export's tasks): pass where the answer read as the task reads it is the one people gave.

`promptfoo eval -c eval/promptfooconfig.yaml -o results.json` runs it; its results can be
ingested (`curate ingest results.json`, the promptfoo format) beside the old logs, and
`curate report --compare OLD NEW` then compares the two models on exactly those inputs.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import TYPE_CHECKING, Any

import yaml

from curate.export.exporters import text_of
from curate.export.rewards_source import rewards_source

if TYPE_CHECKING:
    from curate.export.settings import ExportSettings

FOLDER = "eval"


def answer_of(row: dict[str, Any]) -> str:
    """What the test expects: the resolved label, else the corrected output."""
    example = row["example"]
    return example.label if example.label is not None else text_of(example.answer)


def suite_files(
    settings: ExportSettings,
    rows: list[dict[str, Any]],
    tasks: dict[str, Any],
    detectors: dict[str, Any],
) -> dict[str, str]:
    """{path under the export folder: text} of the suite over the test split's `rows`."""
    tests = [
        {
            "description": f"{row['task']} {row['record_id']}",
            "vars": {
                "messages": json.dumps(row["eval_messages"], ensure_ascii=False),
                "task": row["task"],
                "answer": answer_of(row),
            },
            "metadata": {
                "record_id": row["record_id"],
                "cluster_id": row["cluster_id"],
                "failure_type": row["failure_type"] or "",
            },
        }
        for row in rows
    ]
    model = Counter(r["model"] for r in rows if r["model"]).most_common(1)
    model_name = model[0][0] if model else "gpt-4o-mini"
    config = {
        "description": f"curate {settings.name}: {len(tests)} held-out failures",
        "prompts": [{"id": "curate-conversation", "label": "logged", "raw": "{{ messages }}"}],
        "providers": [{"id": f"openai:chat:{model_name}"}],
        "defaultTest": {"assert": [{"type": "python", "value": "file://curate_assert.py"}]},
        "tests": "file://tests.yaml",
    }
    head = (
        "# The held-out failures of a curate export (--eval), as a promptfoo suite.\n"
        f"# The provider is the model that answered them in production ({model_name}):\n"
        "# name the fine-tuned one instead, then\n"
        "#   promptfoo eval -c promptfooconfig.yaml -o results.json\n"
        "# and `curate ingest results.json` + `curate report --compare OLD NEW`.\n"
    )
    dump = {"sort_keys": False, "allow_unicode": True, "width": 100}
    used = {name: task for name, task in tasks.items() if any(r["task"] == name for r in rows)}
    return {
        f"{FOLDER}/promptfooconfig.yaml": head + yaml.safe_dump(config, **dump),
        f"{FOLDER}/tests.yaml": yaml.safe_dump(tests, **dump),
        f"{FOLDER}/curate_assert.py": rewards_source(used, detectors, promptfoo=True),
    }


__all__ = ["FOLDER", "answer_of", "suite_files"]
