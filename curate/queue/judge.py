"""A judge model's suggestions: a stronger model pre-labels the candidates (`curate suggest`).

Any OpenAI-compatible endpoint (`[judge] base_url`, `model`, `api_key_env`). For each candidate
the judge gets a prompt (`[judge.prompts] TASK = "..."`, or the default below) and answers with
a label (tasks with labels) or the corrected output (other tasks). Calls run `max_concurrency`
at a time, with retries and exponential backoff on 429, 5xx, timeouts and malformed bodies
(tenacity), within a budget of calls or tokens, and are counted (tokens, and cost with
`[judge.prices]`). Every answer is cached in the workspace table `suggestions`, keyed by
(input_hash, model, prompt_hash): a re-run asks nothing it asked before.

`queue push` sends the answers as Argilla suggestions (score, agent = the model);
curate/core/suggestions.py reads them back and measures the judge against what people resolved.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from curate.core.config import Config
from curate.core.errors import ConfigError, CurateError
from curate.core.project import Project
from curate.core.tables import SUGGESTIONS_SCHEMA
from curate.core.tasks import Task
from curate.core.workspace import now_utc

DEFAULT_PROMPT = """You check the answers of a model that does the task "{task}".

The input the model saw:
{input}

The model answered:
{output}

{ask}"""
ASK_LABEL = "Reply with the right answer only: one of {labels}."
ASK_OUTPUT = "Reply with the output the model should have given, and nothing else."
PLACEHOLDERS = ("task", "input", "output", "labels", "ask")
MAX_BODY_BYTES = 16 << 20  # decoded: a chat completion is kilobytes, more is no answer
MAX_TOKENS = 10**9  # a token count past this is not one


class JudgeError(CurateError):
    """The judge endpoint failed after its retries, or answered what cannot be read."""


@dataclass
class SuggestResult:
    model: str = ""
    candidates: int = 0
    cached: int = 0
    asked: int = 0
    answered: int = 0
    failed: int = 0
    over_budget: int = 0
    retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float | None = None
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(vars(self))


def settings(config: Config) -> dict[str, Any]:
    """[judge], checked: base_url and model are required."""
    judge = config.section("judge")
    if not judge:
        raise ConfigError(
            "no [judge] in curate.toml: add base_url and model of an OpenAI-compatible endpoint, "
            'e.g.\n[judge]\nbase_url = "http://127.0.0.1:8000/v1"\nmodel = "my-judge"'
        )
    return judge


def prompt_for(task: Task, judge: dict[str, Any], record: dict[str, Any]) -> str:
    from curate.core.text import conversation_markdown

    template = judge.get("prompts", {}).get(task.name, DEFAULT_PROMPT)
    ask = ASK_LABEL.format(labels=", ".join(task.labels)) if task.has_labels else ASK_OUTPUT
    try:
        return template.format(
            task=task.name,
            input=conversation_markdown(record["messages"]),
            output=record["output"] if record["output"] is not None else "(no output)",
            labels=", ".join(task.labels),
            ask=ask,
        )
    except (KeyError, IndexError, ValueError, AttributeError) as exc:
        raise ConfigError(
            f"[judge.prompts] {task.name}: the prompt cannot be filled in ({type(exc).__name__}: "
            f"{exc}). Its placeholders are {', '.join('{' + p + '}' for p in PLACEHOLDERS)}; "
            'write a literal brace twice: {{"label": "..."}} gives {"label": "..."}'
        ) from None


def _prompts(project: Project, judge: dict[str, Any], records: list[dict[str, Any]]) -> list[str]:
    """Each record's prompt; with the task's redaction policy at `judge`, personal data replaced
    (the judge is a model on someone's endpoint, as the annotators are people on Argilla)."""
    from curate.core.redact import Policy, kept_values, redact_records, save_mapping

    prompts = [prompt_for(project.tasks[r["task"]], judge, r) for r in records]
    for name, task in project.tasks.items():
        policy = Policy.of(task)
        if policy is None or "judge" not in policy.where:
            continue
        mine = [i for i, r in enumerate(records) if r["task"] == name]
        texts = [{"id": [records[i]["record_id"]], "prompt": [prompts[i]]} for i in mine]
        kept = [kept_values(records[i].get("metadata"), task, policy) for i in mine]
        done, found = redact_records(texts, policy, kept)
        save_mapping(project.workspace, found)
        for i, red in zip(mine, done, strict=True):
            prompts[i] = red["prompt"][0]
    return prompts


class Judge:
    """The HTTP side: one chat completion per prompt, retried; thread-safe counters."""

    def __init__(self, judge: dict[str, Any]):
        import httpx

        self.model = judge["model"]
        self.url = judge["base_url"].rstrip("/") + "/chat/completions"
        try:
            url = httpx.URL(self.url)
        except httpx.InvalidURL as exc:
            raise ConfigError(
                f"[judge] base_url = {judge['base_url']!r}: not a URL ({exc})"
            ) from None
        if url.scheme not in ("http", "https") or not url.host:
            raise ConfigError(
                f"[judge] base_url = {judge['base_url']!r}: give an http(s) URL with a host, "
                'e.g. "http://127.0.0.1:8000/v1"'
            )
        key_env = judge.get("api_key_env")
        headers = {}
        self.secret: str | None = None
        if key_env:
            if not os.environ.get(key_env):
                raise ConfigError(f"[judge] api_key_env = {key_env!r}, but {key_env} is not set")
            self.secret = os.environ[key_env]
            headers["Authorization"] = f"Bearer {self.secret}"
        self.timeout = float(judge.get("timeout_s", 60))
        self.attempts = int(judge.get("max_retries", 5)) + 1
        self.client = httpx.Client(headers=headers, timeout=self.timeout)
        self.lock = threading.Lock()
        self.retries = 0

    def ask(self, prompt: str) -> dict[str, Any]:
        """{text, score, prompt_tokens, completion_tokens}; JudgeError when it never worked."""
        import httpx
        from tenacity import (
            RetryError,
            Retrying,
            retry_if_exception_type,
            stop_after_attempt,
            wait_exponential,
        )

        body = {
            "model": self.model,
            "messages": [{"role": "user", "content": prompt}],
            "temperature": 0,
            "logprobs": True,
            "top_logprobs": 1,
        }
        retrying = Retrying(
            stop=stop_after_attempt(self.attempts),
            wait=wait_exponential(multiplier=0.05, max=2),
            retry=retry_if_exception_type((_Retry, httpx.TransportError)),
            reraise=False,
        )
        try:
            for attempt in retrying:
                with attempt:
                    if attempt.retry_state.attempt_number > 1:
                        with self.lock:
                            self.retries += 1
                    return self._once(body)
        except RetryError as exc:
            cause = exc.last_attempt.exception()
            message = f"{self.url}: {cause} (after {self.attempts} attempts)"
            raise JudgeError(self.scrub(message)) from None
        except JudgeError as exc:
            raise JudgeError(self.scrub(str(exc))) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def scrub(self, text: str) -> str:
        """`text` without the API key: a server may echo the Authorization header back."""
        from curate.core.text import scrub_secrets

        return scrub_secrets(text, (self.secret,) if self.secret else ())

    def _once(self, body: dict[str, Any]) -> dict[str, Any]:
        """One call. The whole answer must come within the timeout (a server that trickles a
        byte at a time never times out a read) and decode to at most MAX_BODY_BYTES (a gzip
        body can expand a thousandfold)."""
        from curate.core.http import BodyTooLarge, TooSlow, read_body

        with self.client.stream("POST", self.url, json=body) as response:
            try:
                content = read_body(response, max_bytes=MAX_BODY_BYTES, timeout=self.timeout)
            except BodyTooLarge as exc:
                raise JudgeError(
                    f"{self.url}: {exc}: not a chat completion; check base_url"
                ) from None
            except TooSlow as exc:
                raise _Retry(str(exc)) from None
        if response.status_code == 429 or response.status_code >= 500:
            raise _Retry(f"HTTP {response.status_code}")
        if response.status_code >= 400:
            text = content[:200].decode("utf-8", errors="replace")
            raise JudgeError(f"{self.url} answered HTTP {response.status_code}: {text}")
        try:
            data = json.loads(content)
            choice = data["choices"][0]
            text = choice["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise _Retry(f"a body that is not a chat completion ({exc!r})") from None
        usage = data.get("usage") or {}
        if not isinstance(usage, dict):
            raise JudgeError(f"{self.url}: `usage` is not an object ({str(usage)[:80]!r})")
        return {
            "text": text if isinstance(text, str) else "",
            "score": self._score(choice),
            "prompt_tokens": self._tokens(usage, "prompt_tokens"),
            "completion_tokens": self._tokens(usage, "completion_tokens"),
        }

    def _tokens(self, usage: dict[str, Any], key: str) -> int:
        value = usage.get(key)
        if value is None:
            return 0
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_TOKENS:
            raise JudgeError(f"{self.url}: usage.{key} = {str(value)[:40]!r} is not a token count")
        return value

    def _score(self, choice: dict[str, Any]) -> float | None:
        """The probability of the answer's first token, when the endpoint returns logprobs."""
        try:
            first = choice["logprobs"]["content"][0]["logprob"]
        except (KeyError, IndexError, TypeError):
            return None
        if isinstance(first, bool) or not isinstance(first, int | float) or not first <= 0:
            raise JudgeError(
                f"{self.url}: a logprob of {str(first)[:40]!r}: a log-probability is a number <= 0"
            )
        return round(math.exp(first), 4)


class _Retry(Exception):
    """A response worth asking again for (rate limit, server error, malformed body)."""


def _read_answer(task: Task, text: str) -> tuple[str | None, str | None]:
    """(label, corrected output) from the judge's reply."""
    from curate.core.text import label_key_of

    if not task.has_labels:
        return None, text.strip() or None
    first = text.strip().splitlines()[0] if text.strip() else ""
    terms = task.terms()
    folded = label_key_of(first, task.case_sensitive)
    for term in sorted(terms, key=len, reverse=True):  # longest first: "non match" before "match"
        if folded == term or folded.startswith(term + " "):
            return terms[term], None
    return None, None


def suggest(
    project: Project,
    task: str | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> SuggestResult:
    """Ask the judge about every candidate not asked before; write `suggestions`."""
    workspace = project.workspace
    judge_settings = settings(project.config)
    workspace.require()
    records = _candidate_records(project, task)
    judge = Judge(judge_settings)
    cache = workspace.read_table("suggestions", empty=True)
    result = SuggestResult(model=judge.model, candidates=records.height)
    dicts = records.to_dicts()
    todo = _not_asked(dicts, _prompts(project, judge_settings, dicts), cache, judge.model, result)
    asking = _Asking(project, judge, judge_settings, result, progress, len(todo))
    with ThreadPoolExecutor(max_workers=int(judge_settings.get("max_concurrency", 4))) as pool:
        asked = [row for row in pool.map(asking.one, todo) if row is not None]
    judge.client.close()
    result.retries = judge.retries
    prices = judge_settings.get("prices", {})
    if prices:
        result.cost = round(
            (
                result.prompt_tokens * prices.get("input", 0)
                + result.completion_tokens * prices.get("output", 0)
            )
            / 1e6,
            6,
        )
    fresh = (
        pl.DataFrame(asked, schema=SUGGESTIONS_SCHEMA) if asked else SUGGESTIONS_SCHEMA.to_frame()
    )
    # the cache keeps every answer (failed asks are asked again next time)
    keep = cache.join(
        fresh.select("input_hash", "model", "prompt_hash"),
        on=["input_hash", "model", "prompt_hash"],
        how="anti",
        nulls_equal=True,
    )
    with workspace.stage("suggest", {"task": task, "model": judge.model}) as run:
        run.write("suggestions", pl.concat([keep, fresh]))
        run.counts = {k: v for k, v in result.to_dict().items() if k != "errors"}
    return result


def _candidate_records(project: Project, task: str | None) -> pl.DataFrame:
    """The candidates of the task (of every task of curate.toml without one), as records."""
    workspace = project.workspace
    candidates = workspace.read_table("candidates", needed_by="curate suggest")
    if task is not None:
        project.task(task)
        candidates = candidates.filter(pl.col("task") == task)
    candidates = candidates.filter(pl.col("task").is_in(list(project.tasks)))
    columns = ("record_id", "task", "input_hash", "messages", "output", "metadata")
    return workspace.records_of(candidates, *columns)


def _not_asked(
    records: list[dict[str, Any]],
    prompts: list[str],
    cache: pl.DataFrame,
    model: str,
    result: SuggestResult,
) -> list[tuple[dict[str, Any], str, str]]:
    """(record, prompt, its hash) of the records whose input this model has not answered with
    this prompt; the others are counted as cached (an answer that failed is asked again)."""
    known = {
        (h, m, p): error
        for h, m, p, error in cache.select("input_hash", "model", "prompt_hash", "error").rows()
    }
    todo = []
    for record, prompt in zip(records, prompts, strict=True):
        prompt_hash = hashlib.sha256(prompt.encode()).hexdigest()[:32]
        key = (record["input_hash"], model, prompt_hash)
        if key in known and known[key] is None:
            result.cached += 1
        else:
            todo.append((record, prompt, prompt_hash))
    return todo


class _Asking:
    """One ask of the judge per record, on several threads, within the budget."""

    def __init__(self, project, judge: Judge, judge_settings, result, progress, total: int):
        self.project, self.judge, self.result = project, judge, result
        self.progress, self.total = progress, total
        self.budget_calls = judge_settings.get("budget_calls")
        self.budget_tokens = judge_settings.get("budget_tokens")
        self.lock = threading.Lock()

    def _spent(self) -> bool:
        result = self.result
        tokens = result.prompt_tokens + result.completion_tokens
        return (self.budget_calls is not None and result.asked >= int(self.budget_calls)) or (
            self.budget_tokens is not None and tokens >= int(self.budget_tokens)
        )

    def one(self, item: tuple[dict[str, Any], str, str]) -> dict[str, Any] | None:
        """The suggestions row of one record, or None past the budget."""
        record, prompt, prompt_hash = item
        result, model = self.result, self.judge.model
        with self.lock:
            if self._spent():
                result.over_budget += 1
                return None
            result.asked += 1
        row = {
            "record_id": record["record_id"],
            "task": record["task"],
            "input_hash": record["input_hash"],
            "model": model,
            "prompt_hash": prompt_hash,
            "label": None,
            "corrected_output": None,
            "score": None,
            "answer": None,
            "error": None,
            "prompt_tokens": 0,
            "completion_tokens": 0,
            "asked_at": now_utc(),
        }
        try:
            answer = self.judge.ask(prompt)
        except JudgeError as exc:
            with self.lock:
                result.failed += 1
                if len(result.errors) < 5:
                    result.errors.append(str(exc))
            self._tick()
            return row | {"error": str(exc)}
        label, corrected = _read_answer(self.project.tasks[record["task"]], answer["text"])
        with self.lock:
            result.answered += 1
            result.prompt_tokens += answer["prompt_tokens"]
            result.completion_tokens += answer["completion_tokens"]
        self._tick()
        return row | {
            "label": label,
            "corrected_output": corrected,
            "score": answer["score"],
            "answer": answer["text"][:2000],
            "prompt_tokens": answer["prompt_tokens"],
            "completion_tokens": answer["completion_tokens"],
        }

    def _tick(self) -> None:
        if self.progress is not None:
            self.progress(f"judge {self.judge.model}", 1, self.total)


__all__ = ["SuggestResult", "suggest"]
