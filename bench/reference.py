"""The built-in checks written the way a user would write them by hand: one record at a time.

Used twice: as the baseline of bench/detect.py, and by tests/detect/test_detect_reference.py, which
checks that curate's polars detectors flag exactly the records this plain version flags.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from typing import Any

import jsonschema

from curate.detect.detectors.refusal import PATTERNS

NON_WORD = re.compile(r"[\W_]+")
SPACES = re.compile(r"\s+")
LIMIT_REASONS = {"length", "max_tokens", "max_output_tokens"}
# the detector's default patterns: the phrases are configuration, not the check being compared
REFUSALS = PATTERNS


def fold(text: str) -> str:
    return NON_WORD.sub(" ", text.lower()).strip()


def parses(text: str) -> Any:
    try:
        return True, json.loads(text)
    except ValueError:
        return False, None


def read_label(output: str | None, task: dict[str, Any]) -> tuple[str | None, str | None]:
    """(label, status) as curate documents it: status ok / out_of_vocab / unparseable / None."""
    if output is None or not output.strip():
        return None, None
    terms = {}
    for label in task["labels"]:
        for spelling in [label, *task.get("synonyms", {}).get(label, [])]:
            terms[fold(spelling)] = label
    mode = task.get("parse", {}).get("mode", "prefix")
    if mode == "prefix":
        folded = fold(output)
        if not folded:
            return None, "unparseable"
        for term in sorted(terms, key=len, reverse=True):
            if folded == term or folded.startswith(term + " "):
                return terms[term], "ok"
        return None, "out_of_vocab"
    ok, value = parses(output.strip())
    field = task["parse"]["field"]
    if not ok or not isinstance(value, dict) or value.get(field) is None:
        return None, "unparseable"
    raw = value[field]
    raw = raw if isinstance(raw, str) else json.dumps(raw)
    label = terms.get(fold(raw))
    return label, "ok" if label else "out_of_vocab"


def check_record(record: dict[str, Any], task: dict[str, Any] | None, validator) -> set[str]:
    """The detectors that fire on one record."""
    fired = set()
    output = record["output"]
    text = (output or "").strip()
    has_output = bool(text)
    wants_json = task is not None and (task.get("parse", {}).get("mode") == "json" or validator)
    valid_json, value = parses(text) if has_output else (False, None)
    if wants_json and has_output and not valid_json:
        fired.add("invalid_json")
    if validator is not None and has_output and valid_json and not validator.is_valid(value):
        fired.add("schema_violation")
    label = status = None
    if task is not None and task.get("labels"):
        label, status = read_label(output, task)
        if status == "unparseable":
            fired.add("label_unparseable")
        if status == "out_of_vocab":
            fired.add("label_out_of_vocab")
    opened = text.count("{") + text.count("[")
    closed = text.count("}") + text.count("]")
    cut = text[:1] in ("{", "[") and not valid_json and opened > closed
    if (
        (record["finish_reason"] in LIMIT_REASONS and cut_cost_the_answer(output, task, status))
        or cut
        or text.count("```") % 2 == 1
    ):
        fired.add("truncated")
    lowered = (output or "").replace("\u2019", "'").lower()
    if (
        record["refusal"]
        or record["finish_reason"] == "content_filter"
        or any(p in lowered for p in REFUSALS)
    ):
        fired.add("refusal")
    no_calls = not record["tool_calls"]
    if not has_output and no_calls and record["error"] is None and record["refusal"] is None:
        fired.add("empty_output")
    status_code = record["status_code"]
    if record["error"] is not None or (status_code is not None and not 200 <= status_code <= 299):
        fired.add("api_error")
    score = record["feedback_score"]
    if (score is not None and score < 0.5) or record["correction"]:
        fired.add("negative_feedback")
    if record["reference"] is not None:
        if task is not None and task.get("labels"):
            if status in ("ok", "out_of_vocab"):
                terms = {
                    fold(s): lab
                    for lab in task["labels"]
                    for s in [lab, *task.get("synonyms", {}).get(lab, [])]
                }
                expected = terms.get(fold(record["reference"]), fold(record["reference"]))
                got = label if label is not None else fold(read_raw(output, task))
                if got != expected:
                    fired.add("reference_mismatch")
        elif output is not None and fold(output) != fold(record["reference"]):
            fired.add("reference_mismatch")
    if record["confidence"] is not None and record["confidence"] < 0.5:
        fired.add("low_confidence")
    for call in record["tool_calls"] or []:
        try:
            json.loads(call["arguments"] or "{}")
        except ValueError:
            fired.add("tool_call_invalid")
    return fired


def cut_cost_the_answer(output: str | None, task: dict[str, Any] | None, status) -> bool:
    """A call stopped at the token limit lost its answer to the cut: no label was read and the
    output could still have become one (prefix: the start of a spelling; JSON: not valid JSON);
    JSON with no labels: not valid JSON; free text: always."""
    text = (output or "").strip()
    labels = task is not None and task.get("labels")
    mode = (task or {}).get("parse", {}).get("mode", "prefix")
    if task is None or not (labels or mode == "json" or task.get("schema")):
        return True
    if not labels:
        return not parses(text)[0]
    if status == "ok":
        return False
    if mode == "prefix":
        spellings = [
            fold(s) for lab in task["labels"] for s in [lab, *task.get("synonyms", {}).get(lab, [])]
        ]
        return any(s.startswith(fold(text)) for s in spellings)
    if mode == "json":
        return not parses(text)[0]
    return True


def read_raw(output: str, task: dict[str, Any]) -> str:
    if task.get("parse", {}).get("mode") == "json":
        raw = json.loads(output.strip())[task["parse"]["field"]]
        return raw if isinstance(raw, str) else json.dumps(raw)
    return output.strip().split("\n")[0][:200]


def input_key(messages: list[dict[str, Any]]) -> str:
    text = "\n".join((m["content"] or "") for m in messages if m["role"] != "system")
    return SPACES.sub(" ", text.lower()).strip()


def find_all(
    records: list[dict[str, Any]], tasks: dict[str, dict[str, Any]]
) -> dict[str, set[str]]:
    """detector -> record_ids, over all records (inconsistent needs them all)."""
    validators = {
        name: jsonschema.validators.validator_for(t["schema"])(t["schema"])
        if t.get("schema")
        else None
        for name, t in tasks.items()
    }
    fired: dict[str, set[str]] = defaultdict(set)
    answers: dict[tuple[Any, str], dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for record in records:
        task = tasks.get(record["task"])
        for name in check_record(record, task, validators.get(record["task"])):
            fired[name].add(record["record_id"])
        if task is not None and task.get("labels"):
            answer = read_label(record["output"], task)[0]
        elif record["output"] is not None:
            answer = fold(record["output"])
        else:
            answer = None
        # the input's key: computed once at ingest (input_hash), as curate's detectors use it;
        # records read without it (the reference test) build it from their messages
        hashed = record.get("input_hash")
        key_text = hashed if "input_hash" in record else input_key(record["messages"] or [])
        if answer is not None and key_text not in (None, ""):
            # answers are compared within one deployment: the same model and prompt version
            deployment = (record["model"], record["prompt_version"])
            answers[(record["task"], *deployment, key_text)][answer].add(record["record_id"])
    for by_answer in answers.values():
        if len(by_answer) > 1:
            for ids in by_answer.values():
                fired["inconsistent"].update(ids)
    return fired
