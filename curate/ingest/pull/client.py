"""HTTP to a trace store: JSON GETs retried with backoff on 429 and 5xx (tenacity, as the judge
does), a clear error naming the server and what to check otherwise, the key never shown."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import httpx
import orjson

from curate.core.errors import CurateError
from curate.core.http import BodyTooLarge, TooSlow, read_body
from curate.core.text import scrub_secrets

MAX_BODY_BYTES = 256 << 20  # a page of 1,000 spans with long prompts is tens of MB
MAX_WAIT_S = 30.0  # the longest a Retry-After is honoured for


class PullError(CurateError):
    """A trace store could not be reached, refused us, or answered what is not its API."""


class NotFound(PullError):
    """HTTP 404: the path (a project, an item) is not on the server."""


class TooLong(PullError):
    """HTTP 414 or 431: the request's URL (or headers) were longer than the server takes."""


class _Retry(Exception):
    """A 429, a 5xx or a broken connection: worth another try."""

    def __init__(self, message: str, wait: float | None = None):
        super().__init__(message)
        self.wait = wait


class StoreClient:
    """GETs of one store's API; `what` names it in messages ("Phoenix at http://...")."""

    def __init__(
        self,
        base_url: str,
        what: str,
        *,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        secrets: tuple[str, ...] = (),
        timeout: float = 60.0,
        attempts: int = 6,
        backoff: float = 0.5,
    ):
        self.base_url = base_url.rstrip("/")
        self.what = what
        self.secrets = tuple(s for s in secrets if s)
        self.attempts = max(int(attempts), 1)
        self.timeout = timeout
        self.backoff = backoff
        self.retries = 0
        self.requests = 0
        self.client = httpx.Client(
            base_url=self.base_url, headers=headers or {}, auth=auth, timeout=timeout
        )

    def close(self) -> None:
        self.client.close()

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """The JSON answer to GET `path`; PullError when it never came."""
        from tenacity import (
            RetryError,
            Retrying,
            retry_if_exception_type,
            stop_after_attempt,
        )

        def wait(state) -> float:
            cause = state.outcome.exception() if state.outcome else None
            if isinstance(cause, _Retry) and cause.wait is not None:
                return min(cause.wait, MAX_WAIT_S)
            return min(self.backoff * 2 ** (state.attempt_number - 1), MAX_WAIT_S)

        retrying = Retrying(
            stop=stop_after_attempt(self.attempts),
            wait=wait,
            retry=retry_if_exception_type(_Retry),
            reraise=False,
        )
        try:
            for attempt in retrying:
                with attempt:
                    if attempt.retry_state.attempt_number > 1:
                        self.retries += 1
                    return self._once(path, params)
        except PullError as exc:  # what the server said may echo the key
            raise type(exc)(self.scrub(str(exc))) from None
        except RetryError as exc:
            cause = exc.last_attempt.exception()
            raise PullError(
                self.scrub(
                    f"{self.what}: {cause} (after {self.attempts} attempts). Check that the server "
                    "is running and that base_url is right; a pull run again resumes where this "
                    "one stopped"
                )
            ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _once(self, path: str, params: dict[str, Any] | None) -> Any:
        self.requests += 1
        try:
            with self.client.stream("GET", path, params=present(params)) as response:
                body = read_body(response, max_bytes=MAX_BODY_BYTES, timeout=self.timeout)
        except BodyTooLarge as exc:
            raise PullError(f"{self.what}: {exc} to {path}; lower page_size") from None
        except TooSlow as exc:
            raise _Retry(f"{exc} to {path}") from None
        except httpx.TransportError as exc:
            raise _Retry(f"cannot reach {self.base_url} ({type(exc).__name__}: {exc})") from None
        status = response.status_code
        if status == 429 or status >= 500:
            raise _Retry(f"HTTP {status} from {path}", _retry_after(response))
        if status in (401, 403):
            raise PullError(
                f"{self.what} refused the key (HTTP {status} on {path}): check the API key in the "
                "environment variable the pull names (api_key_env; public_key_env too for "
                "Langfuse), and that it belongs to this "
                "server and project"
            )
        if status == 404:
            raise NotFound(
                f"{self.what} has no {path} (HTTP 404): {_detail(body)}. Check base_url (the "
                "server's address, without an API path) and the project's name"
            )
        if status in (414, 431):
            raise TooLong(f"{self.what} refused a request as too long (HTTP {status} on {path})")
        if status >= 400:
            raise PullError(f"{self.what} answered HTTP {status} on {path}: {_detail(body)}")
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            raise PullError(
                f"{self.what}: {path} answered what is not JSON ({body[:80]!r}); is base_url the "
                "store's API (and not a proxy's login page)?"
            ) from None

    def scrub(self, text: str) -> str:
        """`text` without the keys: a server may echo the Authorization header back."""
        return scrub_secrets(text, self.secrets)


def present(params: dict[str, Any] | None) -> dict[str, Any] | None:
    """Query parameters with no empty values (a list repeats the parameter)."""
    if params is None:
        return None
    return {k: v for k, v in params.items() if v is not None and v != []}


def page_url(base_url: str, path: str, params: dict[str, Any]) -> str:
    """The request that answered a page, as the manifest and quarantine name it (no key: that
    travels in a header)."""
    return f"{base_url}{path}?{urlencode(present(params) or {}, doseq=True)}"


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        return None


def _detail(body: bytes) -> str:
    """What an error answer says, short."""
    text = body[:300].decode("utf-8", errors="replace").strip()
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return text or "no detail"
    if isinstance(parsed, dict):
        for key in ("detail", "message", "error"):
            if key in parsed:
                return str(parsed[key])[:300]
    return text
