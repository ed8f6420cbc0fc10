"""`curate export --for trl|axolotl|llama-factory`: beside the data, what the trainer needs to
load it unchanged, checked against each trainer's documented rules (the trainers themselves need
torch and a GPU, so their loaders are not run here: the rules they apply are)."""

from __future__ import annotations

import json

import pytest
import yaml
from datasets import load_dataset

from curate.core.errors import ConfigError
from curate.core.project import Project
from curate.export.stage import ExportSettings, export_dataset
from tests.export.test_export import annotated  # noqa: F401 - a fixture


def _export(annotated, name, **settings):  # noqa: F811
    workspace, config, _, _ = annotated
    settings.setdefault("validation_fraction", 0.25)
    result = export_dataset(
        Project(workspace, config), ExportSettings(name=name, overwrite=True, **settings)
    )
    return workspace.root / "exports" / name, result


# LLaMA-Factory's sharegpt rules (its data/README.md): after an optional system turn, human or
# observation turns at odd positions, gpt or function_call at even ones; an even number of
# turns for SFT and KTO, odd for a preference prompt, whose chosen and rejected are one gpt or
# function_call turn each; kto_tag a boolean. A line that breaks them is skipped by the trainer.
def llama_factory_rejects(line: dict, entry: dict) -> str | None:
    columns, tags = entry["columns"], entry["tags"]
    role, content = tags["role_tag"], tags["content_tag"]
    odd, even = (
        (tags["user_tag"], tags["observation_tag"]),
        (tags["assistant_tag"], tags["function_tag"]),
    )
    turns = line[columns["messages"]]
    if turns and turns[0][role] == tags["system_tag"]:
        turns = turns[1:]
    for i, turn in enumerate(turns):
        if turn[role] not in (odd, even)[i % 2]:
            return f"turn {i} is {turn[role]}"
        if not isinstance(turn[content], str):
            return f"turn {i} has no text"
    ranking = entry.get("ranking", False)
    if len(turns) % 2 != (1 if ranking else 0):
        return f"{len(turns)} turns"
    if ranking and not all(line[columns[k]][role] in even for k in ("chosen", "rejected")):
        return "chosen or rejected is not an answer turn"
    if "kto_tag" in columns and not isinstance(line[columns["kto_tag"]], bool):
        return "kto_tag is not a boolean"
    if line.get(columns.get("tools", "")) is not None:
        json.loads(line[columns["tools"]])  # a JSON string
    return None


def check_llama_factory(folder) -> int:
    """Every line of every dataset in dataset_info.json passes the rules; the lines checked."""
    info = json.loads((folder / "dataset_info.json").read_text())
    train = yaml.safe_load((folder / "llamafactory.yaml").read_text())
    assert train["dataset_dir"] == str(folder.resolve()) and train["dataset"] in info
    assert train.get("eval_dataset", next(iter(info))) in info
    checked = 0
    for entry in info.values():
        assert entry["formatting"] == "sharegpt"
        path = folder / entry["file_name"]
        for number, text in enumerate(path.read_text().splitlines(), 1):
            problem = llama_factory_rejects(json.loads(text), entry)
            assert problem is None, f"{path.name}:{number}: {problem}"
            checked += 1
    return checked


@pytest.mark.parametrize(
    ("fmt", "stage"), [(None, "sft"), ("sharegpt-dpo", "dpo"), ("sharegpt-kto", "kto")]
)
def test_llama_factory_reads_every_line(annotated, fmt, stage):  # noqa: F811
    folder, result = _export(annotated, f"lf-{stage}", trainer="llama-factory", format=fmt)
    assert check_llama_factory(folder) == sum(result.written.values()) > 0
    info = json.loads((folder / "dataset_info.json").read_text())
    entry = info[f"curate_lf-{stage}"]
    assert entry.get("ranking", False) == (stage == "dpo")
    assert ("kto_tag" in entry["columns"]) == (stage == "kto")
    assert yaml.safe_load((folder / "llamafactory.yaml").read_text())["stage"] == stage
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["format"] == (fmt or "sharegpt")


def _load(folder, name):
    return load_dataset(str(folder), split=name)


@pytest.mark.parametrize(("fmt", "stage"), [(None, "sft"), ("dpo", "dpo"), ("kto", "kto")])
def test_trl_loads_its_dataset_name_with_its_splits(annotated, fmt, stage):  # noqa: F811
    folder, result = _export(annotated, f"trl-{stage}", trainer="trl", format=fmt)
    args = yaml.safe_load((folder / "trl.yaml").read_text())
    assert args["dataset_name"] == str(folder.resolve())
    assert args.get("assistant_only_loss", False) == (stage == "sft")
    columns = {"sft": {"messages"}, "dpo": {"prompt", "chosen", "rejected"}}
    columns["kto"] = {"prompt", "completion", "label"}
    # TRL's script: load_dataset(dataset_name)[dataset_train_split / dataset_test_split]
    for split in ("dataset_train_split", "dataset_test_split"):
        loaded = _load(folder, args[split])
        assert loaded.num_rows == result.written[args[split]] > 0
        assert set(loaded.column_names) == columns[stage]
    assert f"trl {stage} --config" in (folder / "trl.yaml").read_text()


def test_trl_without_a_validation_split_names_none(annotated):  # noqa: F811
    folder, _ = _export(annotated, "trl-all", trainer="trl", validation_fraction=0.0)
    args = yaml.safe_load((folder / "trl.yaml").read_text())
    assert "dataset_test_split" not in args and "eval_strategy" not in args


@pytest.mark.parametrize(("fmt", "stage"), [(None, "sft"), ("dpo", "dpo")])
def test_axolotl_stanza_names_fields_the_files_have(annotated, fmt, stage):  # noqa: F811
    folder, result = _export(annotated, f"ax-{stage}", trainer="axolotl", format=fmt)
    config = yaml.safe_load((folder / "axolotl.yaml").read_text())
    assert config.get("rl") == ("dpo" if stage == "dpo" else None)
    stanzas = config["datasets"] + config["test_datasets"]
    assert [s["path"] for s in stanzas] == [
        str(folder.resolve() / f) for f in ("train.jsonl", "validation.jsonl")
    ]
    for stanza in stanzas:
        assert stanza["ds_type"] == "json"
        rows = load_dataset("json", data_files=stanza["path"], split=stanza["split"])
        assert rows.num_rows > 0
        mapping = stanza["message_property_mappings"]
        for row in rows:
            messages = row[stanza["field_messages"]]
            assert all(mapping["role"] in m and mapping["content"] in m for m in messages)
            if stage == "sft":
                assert stanza["type"] == "chat_template"
                assert messages[-1]["role"] in stanza["roles_to_train"]
            else:
                assert stanza["type"] == "chat_template.default"
                for side in (stanza["field_chosen"], stanza["field_rejected"]):
                    assert row[side][-1]["role"] == "assistant" and row[side][-1]["content"]
    assert sum(result.written.values()) == sum(
        load_dataset("json", data_files=s["path"], split="train").num_rows for s in stanzas
    )


@pytest.mark.parametrize(
    ("trainer", "fmt", "said"),
    [
        ("axolotl", "kto", "Axolotl reads KTO data as text prompts"),
        ("llama-factory", "openai", "llama-factory reads sharegpt, sharegpt-dpo, sharegpt-kto"),
        ("trl", "sharegpt", "trl reads openai, dpo, kto"),
        ("tlr", None, "did you mean 'trl'"),
    ],
)
def test_a_trainer_refuses_a_format_it_cannot_read(annotated, trainer, fmt, said):  # noqa: F811
    with pytest.raises(ConfigError, match=said):
        _export(annotated, "refused", trainer=trainer, format=fmt)
    workspace = annotated[0]
    assert not (workspace.root / "exports" / "refused").exists()


def test_the_command_line_writes_the_trainer_files(annotated, runner):  # noqa: F811
    from curate.cli import main

    workspace, config, _, _ = annotated
    args = ["--workspace", str(workspace.root), "--config", str(config.path)]
    result = runner.invoke(main, [*args, "export", "--name", "cli-lf", "--for", "llama-factory"])
    assert result.exit_code == 0, result.output
    assert {p.name for p in (workspace.root / "exports" / "cli-lf").iterdir()} >= {
        "dataset_info.json",
        "llamafactory.yaml",
        "train.jsonl",
    }
    help_text = runner.invoke(main, ["export", "--help"]).output
    assert "--for [trl|axolotl|llama-factory]" in help_text
