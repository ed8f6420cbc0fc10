"""What a candidate must pass to become a training example: a list of named checks, run in order.

Each check reads (and may fill in) the example on its way, and returns why the record is left out,
or None. The first reason stops the record; export counts the reasons and lists every record left
out with its own. To add a check: write the function, add it to CHECKS where it belongs.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from curate.core.redact import Policy, kept_values, redact_records, save_mapping
from curate.core.tables import CORRECTED, IS_FAILURE, LABEL
from curate.core.tasks import Task
from curate.core.text import label_key_of
from curate.core.tool_calls import calls_text, openai_tools, problems, read_calls
from curate.core.triage import NOT_FOR_TRAINING
from curate.export.exporters import Example, text_of

if TYPE_CHECKING:
    from curate.core.project import Project
    from curate.export.exporters import Exporter
    from curate.export.settings import ExportResult, ExportSettings
    from curate.export.template import ChatTemplate

ROLES = {"system", "user", "assistant", "tool"}


@dataclass
class Candidate:
    """One candidate record on its way to an example: what the checks read and fill in."""

    record: dict[str, Any]
    task: Task | None
    answers: dict[str, Any] | None  # question -> resolved value
    answer: str | None = None  # the assistant turn, as text (tool calls: their JSON)
    messages: list[dict[str, Any]] = field(default_factory=list)
    eval_messages: list[dict[str, Any]] = field(default_factory=list)  # for the --eval suite
    example: Example | None = None
    openai: dict[str, Any] = field(default_factory=dict)  # the example in OpenAI's shape
    tokens: int = 0
    template_tokens: int = 0  # as --check-template's tokenizer renders it
    rejected: str | None = None  # preference formats: the production output that broke
    tools: list[dict[str, Any]] | None = None  # the request's, OpenAI-shaped
    answer_calls: list[dict[str, str]] | None = None  # the answer is these tool calls
    rejected_calls: list[dict[str, str]] | None = None


@dataclass
class Checking:
    """What the checks share across records."""

    project: Project
    settings: ExportSettings
    result: ExportResult
    discarded: set[str]
    policies: dict[str, Policy | None]
    encoding: Any  # the tokenizer lengths are counted with
    openai: Exporter
    seen: set[str] = field(default_factory=set)  # the examples written so far, by hash
    pairs: bool = False  # a preference format: the production output is the rejected side
    template: ChatTemplate | None = None  # --check-template: the tokenizer's chat template
    # answered, but a question's answers conflict (none resolved for it)
    disagreed: set[str] = field(default_factory=set)
    # --max-suspicion: record_id -> (suspicion, reasons) of its resolved label (core/suspicion)
    suspicion: dict[str, tuple[float, list[str]]] = field(default_factory=dict)


Check = Callable[[Candidate, Checking], "str | None"]


def discarded(c: Candidate, run: Checking) -> str | None:
    return "discarded by an annotator" if c.record["record_id"] in run.discarded else None


def fixed_without_training(c: Candidate, run: Checking) -> str | None:
    triage = c.record["triage"]
    if triage in NOT_FOR_TRAINING and not run.settings.include_config_failures:
        return f"a {triage} failure, fixed without training (--include-config-failures writes it)"
    return None


def unresolved(c: Candidate, run: Checking) -> str | None:
    if c.record["record_id"] in run.disagreed:
        return (
            "not resolved: annotators disagree, waiting for adjudication (curate queue pull "
            f"sent it to curate-{c.record['task']}-adjudication)"
        )
    return None if c.answers else "not resolved: not answered yet"


def suspected(c: Candidate, run: Checking) -> str | None:
    """--max-suspicion: a label the evidence says is likely wrong (curate review lists them)."""
    limit = run.settings.max_suspicion
    score, reasons = run.suspicion.get(c.record["record_id"], (0.0, []))
    if limit is not None and score > limit:
        return f"a suspected label error (suspicion {score} > {limit}: {'; '.join(reasons)})"
    return None


def confirmed_control(c: Candidate, run: Checking) -> str | None:
    said = (c.answers or {}).get(IS_FAILURE)
    control = said == "no" or (c.record["is_control"] and said != "yes")
    if control and not run.settings.include_controls:
        return "a control confirmed correct (use --include-controls)"
    return None


def unknown_task(c: Candidate, run: Checking) -> str | None:
    return f"task {c.record['task']!r} is not in curate.toml" if c.task is None else None


def invalid_answer(c: Candidate, run: Checking) -> str | None:
    """The corrected answer: tool calls where it names the request's tools as calls
    (curate/core/tool_calls.py), else the task's answer, canonical and schema-checked."""
    assert c.task is not None and c.answers is not None
    c.tools = openai_tools(c.record.get("tools"))
    c.answer_calls = read_calls(c.answers.get(CORRECTED), c.tools)
    if c.answer_calls is not None:
        c.answer = calls_text(c.answer_calls)
        problem = problems(c.answer_calls, c.record.get("tools"))
        return f"invalid: the corrected tool call breaks its tool: {problem}" if problem else None
    c.answer, why = assistant_turn(c.task, c.answers, c.record["output"])
    return f"invalid: {why}" if c.answer is None else None


def no_pair(c: Candidate, run: Checking) -> str | None:
    """Preference formats: the production output is the rejected side only where it is an
    answer that broke: never a control's (it was right), an API error's or a cut one's (config
    and infrastructure failures are no answer), an empty one, or one the correction equals."""
    if not run.pairs:
        return None
    assert c.task is not None and c.answer is not None
    record, said = c.record, (c.answers or {}).get(IS_FAILURE)
    if said == "no" or (record["is_control"] and said != "yes"):
        return "not paired, a control (its output was right)"
    if record["triage"] in NOT_FOR_TRAINING:
        triage = record["triage"]
        return f"not paired, a {triage} failure (its output is no answer to prefer against)"
    output, calls = record["output"], None
    if (output is None or not output.strip()) and record.get("tool_calls"):
        calls = record["tool_calls"]
        output = calls_text(calls)
    if output is None or not output.strip():
        return "not paired, no production output to prefer against"
    if output == c.answer or same_answer(c.task, c.answer, output):
        return "not paired, the correction says what the production output said"
    c.rejected, c.rejected_calls = output, calls
    return None


def same_answer(task: Task, chosen: str, output: str) -> bool:
    """The production output says what the correction says, read as the task reads answers:
    JSON compared as values (the label field by its term), labels by their term, text with its
    white space folded."""

    def term(text: Any) -> Any:
        if not isinstance(text, str):
            return text
        return task.terms().get(label_key_of(text, task.case_sensitive), text.strip())

    if task.wants_json:
        try:
            a, b = json.loads(chosen), json.loads(output)
        except json.JSONDecodeError:
            return False
        if task.parse_field and isinstance(a, dict) and isinstance(b, dict):
            a = a | {task.parse_field: term(a.get(task.parse_field))}
            b = b | {task.parse_field: term(b.get(task.parse_field))}
        return a == b
    if task.has_labels:
        return term(chosen) == term(output)
    return " ".join(chosen.split()) == " ".join(output.split())


def invalid_example(c: Candidate, run: Checking) -> str | None:
    """The conversation (redacted where the task's policy says so) passes OpenAI's checks."""
    assert c.task is not None and c.answer is not None
    c.messages = c.eval_messages = messages_for(c.record["messages"], run.settings.system_prompt)
    policy = run.policies[c.record["task"]]
    places = set(policy.where) & {"export", "eval"} if policy is not None else set()
    if places:
        done = redacted(run, c.record, c.task, policy, c.messages, c.answer, c.rejected)
        if "eval" in places:  # the suite's conversation (--eval), sent to the model under test
            c.eval_messages = done[0]
        if "export" in places:
            c.messages, c.answer, c.rejected = done
    answer = assistant_message(c.answer, c.answer_calls, c.tools)
    rejected = assistant_message(c.rejected, c.rejected_calls, c.tools)
    if answer is None or (c.rejected is not None and rejected is None):
        return "invalid: a tool call's arguments are no longer JSON after redaction"
    label = (c.answers or {}).get(LABEL)
    c.example = Example(c.messages, answer, c.tools, rejected, c.record["task"], label)
    c.openai = run.openai.render(c.example)[0]
    problem = check_openai_example(c.openai)
    return f"invalid: {problem}" if problem else None


def assistant_message(
    text: str | None, calls: list[dict[str, str]] | None, tools: list[dict[str, Any]] | None
) -> dict[str, Any] | None:
    """The assistant turn of `text`: tool calls where it was read as calls (read again, as
    redaction may have replaced values in it), else its content. None: calls no longer read."""
    if text is None:
        return None
    if calls is None:
        return {"role": "assistant", "content": text}
    calls = read_calls(text, tools)
    return {"role": "assistant", "tool_calls": openai_calls(calls)} if calls else None


def openai_calls(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "id": c.get("id"),
            "type": "function",
            "function": {"name": c.get("name"), "arguments": c.get("arguments") or "{}"},
        }
        for c in calls
    ]


def too_long(c: Candidate, run: Checking) -> str | None:
    """The conversation in tokens (4 a message, 2 a conversation, as OpenAI counts them); for a
    pair, with the longer of its two answers: a trainer holds both sides."""
    encode = run.encoding.encode
    c.tokens = sum(len(encode(text_of(m))) + 4 for m in c.openai["messages"]) + 2
    if c.rejected is not None:
        c.tokens += max(len(encode(c.rejected)) - len(encode(c.answer or "")), 0)
    limit = run.settings.max_tokens
    return f"too long: {c.tokens} tokens > {limit}" if c.tokens > limit else None


def template_problem(c: Candidate, run: Checking) -> str | None:
    """--check-template: the tokenizer's chat template trains the answer and its end of turn,
    within --max-tokens (curate/export/template.py)."""
    if run.template is None:
        return None
    assert c.example is not None
    reason, c.template_tokens = run.template.problem(c.example)
    return reason


def duplicate(c: Candidate, run: Checking) -> str | None:
    key = hashlib.sha256(json.dumps(c.openai, sort_keys=True).encode()).hexdigest()
    if key in run.seen:
        return "duplicate of another example"
    run.seen.add(key)
    return None


CHECKS: list[Check] = [
    discarded,
    fixed_without_training,
    unresolved,
    suspected,
    confirmed_control,
    unknown_task,
    invalid_answer,
    no_pair,
    invalid_example,
    too_long,
    template_problem,
    duplicate,
]


def left_out(candidate: Candidate, run: Checking) -> str | None:
    """The first check's reason to leave the candidate out, or None: it becomes an example."""
    for check in CHECKS:
        reason = check(candidate, run)
        if reason is not None:
            return reason
    return None


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


def messages_for(messages: list[dict[str, Any]], system_prompt: str | None) -> list[dict[str, Any]]:
    """The conversation the example trains on, in OpenAI's shape: role, content, name,
    tool_calls, tool_call_id; the system prompt replaced by `system_prompt` where one is given."""
    out = []
    for message in messages or []:
        if message["role"] == "system" and system_prompt is not None:
            continue
        entry: dict[str, Any] = {"role": message["role"], "content": message.get("content")}
        if message.get("name"):
            entry["name"] = message["name"]
        if message.get("tool_calls"):
            entry["tool_calls"] = openai_calls(message["tool_calls"])
            if not entry["content"]:
                del entry["content"]
        if message.get("tool_call_id"):
            entry["tool_call_id"] = message["tool_call_id"]
        out.append(entry)
    if system_prompt is not None:
        out.insert(0, {"role": "system", "content": system_prompt})
    return out


def redacted(run: Checking, record, task, policy, messages, answer, rejected=None):
    """The example's turns, answer and rejected side with personal data replaced
    (curate/core/redact.py); the placeholders' values go to the workspace's mapping, never into
    the export. One record's equal values share one placeholder across all three."""
    calls = [c for m in messages for c in m.get("tool_calls") or []]
    texts = {"id": [record["record_id"]], "turns": [m.get("content") or "" for m in messages]}
    texts["arguments"] = [c["function"]["arguments"] for c in calls]
    texts["answer"] = [answer]
    texts["rejected"] = [rejected or ""]
    kept = [kept_values(record.get("metadata"), task, policy)]
    (done,), found = redact_records([texts], policy, kept)
    save_mapping(run.project.workspace, found)
    for entity, n in found.counts.items():
        run.result.redacted[entity] = run.result.redacted.get(entity, 0) + n
    arguments = iter(done["arguments"])
    turns = []
    for message, content in zip(messages, done["turns"], strict=True):
        if "content" in message:
            message = message | {"content": content}
        if message.get("tool_calls"):
            message = message | {
                "tool_calls": [
                    c | {"function": c["function"] | {"arguments": next(arguments)}}
                    for c in message["tool_calls"]
                ]
            }
        turns.append(message)
    return turns, done["answer"][0], (done["rejected"][0] if rejected is not None else None)


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
