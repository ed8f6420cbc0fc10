"""`curate export --check-template TOKENIZER_DIR`: every example rendered with the chat template
of a local Hugging Face tokenizer, as a trainer with `assistant_only_loss` would render it.

`transformers`' `apply_chat_template` with `return_assistant_tokens_mask` (no torch needed)
says which tokens are trained. An example fails (and is left out, with its reason) where:

- the answer is not trained: no token of the last assistant turn is in the mask (the template
  has no `{% generation %}` block around it, or the trainer would learn nothing from it);
- the rendered conversation is longer than `--max-tokens`: a trainer cuts it, and the cut falls
  in the answer, which comes last;
- the end-of-turn token is not trained: the last trained token is no special token (the
  template closes the answer outside the generation block), so the model never learns to stop.

For a preference format both sides are rendered. The token counts per split go to the
manifest. Nothing is downloaded: the folder must hold the tokenizer (`tokenizer.json` and its
config, with a chat template).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from curate.core.errors import ConfigError
from curate.export.exporters import Example, hf_message


@dataclass
class ChatTemplate:
    path: str
    tokenizer: Any
    max_tokens: int

    def problem(self, example: Example) -> tuple[str | None, int]:
        """(why the example fails, or None; its length in tokens, the longer side of a pair)."""
        longest = 0
        for answer in (example.answer, example.rejected):
            if answer is None:
                continue
            why, tokens = self._side(example, answer)
            longest = max(longest, tokens)
            if why is not None:
                return why, longest
        return None, longest

    def _side(self, example: Example, answer: dict[str, Any]) -> tuple[str | None, int]:
        messages = [hf_message(m) for m in example.messages]
        rendered = self.tokenizer.apply_chat_template(
            [*messages, hf_message(answer)],
            tools=example.tools,
            tokenize=True,
            return_dict=True,
            return_assistant_tokens_mask=True,
        )
        ids, mask = rendered["input_ids"], rendered["assistant_masks"]
        prompt = self.tokenizer.apply_chat_template(
            messages,
            tools=example.tools,
            tokenize=True,
            return_dict=True,
            add_generation_prompt=True,
        )["input_ids"]
        if len(ids) > self.max_tokens:
            return (
                f"template: {len(ids)} tokens > --max-tokens {self.max_tokens}, the answer cut",
                len(ids),
            )
        if not any(mask[len(prompt) :]):
            return (
                "template: the answer is not trained (no assistant token in the mask; does the "
                "chat template wrap it in {% generation %}?)",
                len(ids),
            )
        last = max(i for i, m in enumerate(mask) if m)
        if ids[last] not in self.tokenizer.all_special_ids:
            token = self.tokenizer.convert_ids_to_tokens(ids[last])
            return (
                f"template: the end-of-turn token is not trained (the last trained token is "
                f"{token!r}): the model would not learn to stop",
                len(ids),
            )
        return None, len(ids)


def load_template(path: Path, max_tokens: int) -> ChatTemplate:
    """The tokenizer in `path`, or a ConfigError naming the folder and what it lacks."""
    if not path.is_dir():
        raise ConfigError(f"--check-template {path}: no such folder; give a tokenizer's folder")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")  # "PyTorch was not found"
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"--check-template {path}: not a Hugging Face tokenizer folder ({exc}); save one "
            "with tokenizer.save_pretrained(DIR)"
        ) from None
    if not getattr(tokenizer, "chat_template", None):
        raise ConfigError(
            f"--check-template {path}: the tokenizer has no chat template; give one that has "
            "(tokenizer_config.json's chat_template, or chat_template.jinja)"
        )
    if not tokenizer.is_fast:
        raise ConfigError(
            f"--check-template {path}: the assistant mask needs a fast tokenizer "
            "(tokenizer.json); this folder has a slow one only"
        )
    return ChatTemplate(str(path), tokenizer, max_tokens)


def split_tokens(rows: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Per split: examples, tokens in all, the longest, as the template renders them."""
    out: dict[str, dict[str, int]] = {}
    for row in rows:
        entry = out.setdefault(row["split"], {"examples": 0, "tokens": 0, "max": 0})
        entry["examples"] += 1
        entry["tokens"] += row["template_tokens"]
        entry["max"] = max(entry["max"], row["template_tokens"])
    return out


__all__ = ["ChatTemplate", "load_template", "split_tokens"]
