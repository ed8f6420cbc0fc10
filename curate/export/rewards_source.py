"""The source of a generated rewards module: curate's detectors (curate/rewards.py) bound to an
export's tasks and [detectors] settings. `--format grpo` writes it as rewards.py (TRL reward
functions); `--eval` as the promptfoo suite's assertion (with `get_assert`)."""

from __future__ import annotations

import json
from dataclasses import fields
from typing import Any

HEAD = '''"""{doc}

They are curate's own detectors (curate/rewards.py) bound to this export's tasks and detector
settings, so an answer is judged as `curate detect` would judge it. They need curate installed
where they run.
"""

import json

from curate.rewards import Rewards

TASKS = json.loads({tasks!r})
DETECTORS = json.loads({detectors!r})

_rewards = Rewards.from_export(TASKS, DETECTORS)
'''

TRL = '''

def correct(completions, task, answer, **kwargs):
    """1.0 where the answer, read as the task reads it, is the known one."""
    return _rewards.correct(completions, task, answer)


def well_formed(completions, task, answer, **kwargs):
    """1.0 where the answer is a label of the vocabulary / JSON that meets the task schema."""
    return _rewards.well_formed(completions, task, answer)


def complete(completions, task, answer, **kwargs):
    """1.0 where the answer is not cut inside a structure."""
    return _rewards.complete(completions, task, answer)
'''

PROMPTFOO = '''

def get_assert(output, context):
    """promptfoo's python assertion: pass where the answer, read as the task reads it, is the
    held-out one (curate's `correct` reward); the reason names the detectors that fired."""
    test = context["vars"]
    found = _rewards.findings([output], [test["task"]], [test["answer"]])[0]
    passed = _rewards.correct([output], [test["task"]], [test["answer"]])[0] == 1.0
    reason = "the answer is the held-out one" if passed else "curate found: " + ", ".join(
        sorted(found)
    )
    return {"pass": passed, "score": 1.0 if passed else 0.0, "reason": reason}
'''

TRL_DOC = (
    "Reward functions for TRL's GRPOTrainer, written by `curate export --format grpo`.\n\n"
    "    from trl import GRPOConfig, GRPOTrainer\n"
    "    from rewards import correct, well_formed, complete\n"
    "    trainer = GRPOTrainer(model=MODEL, reward_funcs=[correct, well_formed, complete],\n"
    '                          args=GRPOConfig(output_dir="grpo"), train_dataset=dataset)\n\n'
    "The dataset's `task` and `answer` columns reach them as keyword arguments."
)
PROMPTFOO_DOC = (
    "The assertion of the promptfoo suite written by `curate export --eval`: each held-out\n"
    "failure passes where the model's answer is the one people gave."
)


def task_specs(tasks: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each Task as the data it is built from (its schema inline)."""
    return {
        name: {f.name: getattr(task, f.name) for f in fields(task) if f.init}
        for name, task in tasks.items()
    }


def rewards_source(tasks: dict[str, Any], detectors: dict[str, Any], *, promptfoo=False) -> str:
    """rewards.py (TRL's reward functions), or the suite's curate_assert.py (promptfoo)."""
    head = HEAD.format(
        doc=PROMPTFOO_DOC if promptfoo else TRL_DOC,
        tasks=json.dumps(task_specs(tasks), sort_keys=True),
        detectors=json.dumps(detectors, sort_keys=True),
    )
    return head + (PROMPTFOO if promptfoo else TRL)


__all__ = ["rewards_source", "task_specs"]
