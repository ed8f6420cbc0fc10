"""Trainer-ready folders (`curate export --for trl|axolotl|llama-factory`): beside the data,
what that trainer needs to load it unchanged.

Each trainer reads some export formats: `--for` picks its supervised one where no --format is
given, and refuses a format it cannot read. The files name the export folder by its absolute
path, so the trainer runs from anywhere:

- trl: `trl.yaml`, the script arguments of TRL's command line (`trl sft|dpo|kto --config
  trl.yaml --model_name_or_path MODEL`): the dataset folder and its splits, LoRA, and for SFT
  `assistant_only_loss` (the loss on the assistant turns only; `--check-template` says whether
  a tokenizer's chat template can mark them).
- axolotl: `axolotl.yaml`, a `datasets:` / `test_datasets:` stanza (`type: chat_template` with
  `field_messages` and `roles_to_train`; `chat_template.default` and `rl: dpo` for pairs) to
  merge into an Axolotl config that names its base_model.
- llama-factory: `dataset_info.json` (an entry per split: formatting, columns, tags, `ranking`
  for pairs, `kto_tag` for KTO) and `llamafactory.yaml`, the dataset part of its train config
  (`dataset_dir` is the export folder).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from curate.core.errors import ConfigError
from curate.core.plugins import did_you_mean

if TYPE_CHECKING:
    from curate.export.settings import ExportSettings


@dataclass(frozen=True)
class Trainer:
    name: str
    formats: dict[str, str]  # export format -> the trainer's stage for it (sft, dpo, kto)
    refused: dict[str, str]  # export format -> why the trainer cannot read it

    @property
    def default(self) -> str:
        return next(iter(self.formats))


TRAINERS = {
    "trl": Trainer("trl", {"openai": "sft", "dpo": "dpo", "kto": "kto", "grpo": "grpo"}, {}),
    "axolotl": Trainer(
        "axolotl",
        {"openai": "sft", "dpo": "dpo"},
        {"kto": "Axolotl reads KTO data as text prompts in its own templates only"},
    ),
    "llama-factory": Trainer(
        "llama-factory", {"sharegpt": "sft", "sharegpt-dpo": "dpo", "sharegpt-kto": "kto"}, {}
    ),
}


def resolve(settings: ExportSettings) -> ExportSettings:
    """The settings with their format: the one given, else the trainer's supervised one, else
    openai; a ConfigError where `--for` names no trainer or one that cannot read the format."""
    if settings.trainer is None:
        return replace(settings, format=settings.format or "openai")
    trainer = TRAINERS.get(settings.trainer)
    if trainer is None:
        hint = did_you_mean(settings.trainer, list(TRAINERS))
        raise ConfigError(
            f"--for {settings.trainer!r}: unknown trainer; {hint}use one of {', '.join(TRAINERS)}"
        )
    fmt = settings.format or trainer.default
    if fmt not in trainer.formats:
        why = trainer.refused.get(fmt, f"{trainer.name} does not read --format {fmt}")
        raise ConfigError(
            f"--for {trainer.name} --format {fmt}: {why}; {trainer.name} reads "
            f"{', '.join(trainer.formats)} (or use --for trl)"
        )
    return replace(settings, format=fmt)


def trainer_files(settings: ExportSettings, folder: Path, splits: dict[str, int]) -> dict[str, str]:
    """{file name: text} of the trainer named by `--for`, for the export at `folder` (its
    final, absolute place) with `splits` lines per split; {} without `--for`."""
    if settings.trainer is None:
        return {}
    assert settings.format is not None
    trainer = TRAINERS[settings.trainer]
    stage = trainer.formats[settings.format]
    write = {"trl": _trl, "axolotl": _axolotl, "llama-factory": _llama_factory}[trainer.name]
    return write(settings, folder.resolve(), stage, splits["validation"] > 0)


def _yaml(comment: str, data: dict[str, Any]) -> str:
    head = "".join(f"# {line}\n" if line else "#\n" for line in comment.splitlines())
    return head + yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def _trl(settings, folder: Path, stage: str, validation: bool) -> dict[str, str]:
    args: dict[str, Any] = {"dataset_name": str(folder), "dataset_train_split": "train"}
    if validation:
        args |= {"dataset_test_split": "validation", "eval_strategy": "epoch"}
    args |= {"output_dir": f"{settings.name}-{stage}", "use_peft": True}
    if stage == "sft":
        args["assistant_only_loss"] = True
    if stage == "grpo":  # the export's rewards.py, imported as `rewards` from the folder
        args["reward_funcs"] = [f"rewards.{f}" for f in ("correct", "well_formed", "complete")]
    comment = (
        f"TRL script arguments written by curate export --for trl (--format {settings.format}).\n"
        f"trl {stage} --config {folder / 'trl.yaml'} --model_name_or_path MODEL"
    )
    if stage == "grpo":
        comment += f"\nrun it from {folder} (or with it on PYTHONPATH): rewards.py is imported."
    if stage == "sft":
        comment += (
            "\nassistant_only_loss needs a chat template that marks the assistant turns "
            "({% generation %});\ncurate export --check-template TOKENIZER_DIR says whether "
            "yours does."
        )
    return {"trl.yaml": _yaml(comment, args)}


def _axolotl(settings, folder: Path, stage: str, validation: bool) -> dict[str, str]:
    if stage == "sft":
        entry: dict[str, Any] = {
            "type": "chat_template",
            "field_messages": "messages",
            "message_property_mappings": {"role": "role", "content": "content"},
            "roles_to_train": ["assistant"],
            "train_on_eos": "turn",
        }
    else:  # dpo: TRL's conversational shape, the chosen and rejected turn each a list of one
        entry = {
            "type": "chat_template.default",
            "field_messages": "prompt",
            "field_chosen": "chosen",
            "field_rejected": "rejected",
            "message_property_mappings": {"role": "role", "content": "content"},
        }

    def dataset(split: str) -> dict[str, Any]:
        return {"path": str(folder / f"{split}.jsonl"), "ds_type": "json", "split": "train"} | entry

    config: dict[str, Any] = {"rl": "dpo"} if stage == "dpo" else {}
    config["datasets"] = [dataset("train")]
    if validation:
        config["test_datasets"] = [dataset("validation")]
    config["output_dir"] = f"./{settings.name}-{stage}"
    comment = (
        "Axolotl datasets written by curate export --for axolotl "
        f"(--format {settings.format}).\n"
        "Merge into a config that names base_model, then: axolotl train CONFIG.yaml"
    )
    if stage == "dpo":
        comment += "\nAxolotl's chat_template.default reads role and content only: no tool calls."
    return {"axolotl.yaml": _yaml(comment, config)}


SHAREGPT_TAGS = {
    "role_tag": "from",
    "content_tag": "value",
    "user_tag": "human",
    "assistant_tag": "gpt",
    "observation_tag": "observation",
    "function_tag": "function_call",
    "system_tag": "system",
}


def _llama_factory(settings, folder: Path, stage: str, validation: bool) -> dict[str, str]:
    columns = {"messages": "conversations", "tools": "tools"}
    entry: dict[str, Any] = {"formatting": "sharegpt"}
    if stage == "dpo":
        entry["ranking"] = True
        columns |= {"chosen": "chosen", "rejected": "rejected"}
    if stage == "kto":
        columns["kto_tag"] = "kto_tag"
    entry |= {"columns": columns, "tags": SHAREGPT_TAGS}
    name = f"curate_{settings.name}"
    info = {name: {"file_name": "train.jsonl"} | entry}
    train: dict[str, Any] = {"stage": stage, "dataset_dir": str(folder), "dataset": name}
    if validation:
        info[f"{name}_validation"] = {"file_name": "validation.jsonl"} | entry
        train["eval_dataset"] = f"{name}_validation"
    train |= {"finetuning_type": "lora", "output_dir": f"{settings.name}-{stage}"}
    comment = (
        "The dataset part of a LLaMA-Factory train config, written by curate export --for "
        "llama-factory.\nAdd model_name_or_path and template, then: llamafactory-cli train "
        "CONFIG.yaml"
    )
    return {
        "dataset_info.json": json.dumps(info, indent=2) + "\n",
        "llamafactory.yaml": _yaml(comment, train),
    }


__all__ = ["TRAINERS", "resolve", "trainer_files"]
