"""`curate export --check-template TOKENIZER_DIR`: each example rendered with a local tokenizer's
chat template and its assistant mask. The tokenizers are built here (a byte-level BPE trained on a
few sentences with `tokenizers`, and chat templates written for the tests): nothing downloaded."""

from __future__ import annotations

import json

import pytest

from curate.core.errors import ConfigError, ExportError
from curate.core.project import Project
from curate.export.stage import ExportSettings, export_dataset
from tests.export.test_export import annotated  # noqa: F401 - a fixture

HEAD = (
    "{%- if tools %}<|im_start|>system\n{{ tools | tojson }}<|im_end|>\n{% endif -%}"
    "{%- for m in messages -%}"
    "{%- if m.role == 'assistant' -%}<|im_start|>assistant\n"
)
BODY = "{{ m.content if m.content else (m.tool_calls | tojson) }}"
TAIL = (
    "{%- else -%}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt %}<|im_start|>assistant\n{% endif -%}"
)
TEMPLATES = {
    # the answer and its end of turn trained, as a template meant for assistant_only_loss does
    "good": HEAD + "{% generation %}" + BODY + "<|im_end|>{% endgeneration %}\n" + TAIL,
    # no generation block: a trainer with assistant_only_loss trains nothing
    "unmarked": HEAD + BODY + "<|im_end|>\n" + TAIL,
    # the end of turn outside the block: the model never learns to stop
    "open-ended": HEAD + "{% generation %}" + BODY + "{% endgeneration %}<|im_end|>\n" + TAIL,
}


def _tokenizer(folder, template: str | None):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["<|im_start|>", "<|im_end|>", "<pad>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(['{"decision": "match"} records of people, names and dates'], trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<pad>", chat_template=template
    )
    fast.save_pretrained(str(folder))
    return folder


@pytest.fixture(scope="module")
def tokenizers(tmp_path_factory):
    root = tmp_path_factory.mktemp("tokenizers")
    return {name: _tokenizer(root / name, t) for name, t in [*TEMPLATES.items(), ("none", None)]}


def _export(annotated, name, **settings):  # noqa: F811
    workspace, config, _, _ = annotated
    settings = {"validation_fraction": 0.25, "overwrite": True, "allow_small": True} | settings
    result = export_dataset(Project(workspace, config), ExportSettings(name=name, **settings))
    manifest = json.loads((workspace.root / "exports" / name / "manifest.json").read_text())
    return result, manifest


def test_a_good_template_trains_every_example_and_counts_its_tokens(annotated, tokenizers):  # noqa: F811
    plain, _ = _export(annotated, "plain")
    result, manifest = _export(annotated, "good", check_template=tokenizers["good"])
    assert result.written == plain.written and "template" not in result.excluded
    splits = manifest["template"]["splits"]
    assert {s: v["examples"] for s, v in splits.items()} == result.written
    for split in splits.values():
        assert 0 < split["max"] <= split["tokens"]
    # byte-level BPE of a few sentences: more tokens than cl100k_base counts
    assert splits["train"]["max"] > result.tokens["max"]


@pytest.mark.parametrize(
    ("template", "reason"),
    [
        ("unmarked", "template: the answer is not trained"),
        ("open-ended", "template: the end-of-turn token is not trained"),
    ],
)
def test_a_template_that_would_not_train_the_answer_leaves_every_example_out(
    annotated,  # noqa: F811
    tokenizers,
    template,
    reason,
):
    plain, _ = _export(annotated, "plain")
    result, manifest = _export(annotated, template, check_template=tokenizers[template])
    assert sum(result.written.values()) == 0
    assert result.excluded["template"] == sum(plain.written.values())
    said = {e["reason"] for e in manifest["excluded"] if e["reason"].startswith("template")}
    assert said and all(r.startswith(reason) for r in said)


def test_an_answer_the_token_limit_would_cut_is_left_out(annotated, tokenizers):  # noqa: F811
    _, good = _export(annotated, "good", check_template=tokenizers["good"])
    longest = good["template"]["splits"]["train"]["max"]
    # cl100k_base counts fewer tokens than this tokenizer: the limit falls between the two
    _, manifest = _export(
        annotated, "cut", check_template=tokenizers["good"], max_tokens=longest - 1
    )
    cut = [e for e in manifest["excluded"] if e["reason"].startswith("template:")]
    assert cut and all("the answer cut" in e["reason"] for e in cut)
    kept = manifest["template"]["splits"]
    assert all(s["max"] <= longest - 1 for s in kept.values())


def test_a_pair_is_checked_on_both_sides(annotated, tokenizers):  # noqa: F811
    plain, _ = _export(annotated, "pairs", format="dpo")
    result, manifest = _export(annotated, "pairs", format="dpo", check_template=tokenizers["good"])
    assert result.written == plain.written and manifest["template"]["splits"]
    result, _ = _export(annotated, "pairs", format="dpo", check_template=tokenizers["unmarked"])
    assert result.excluded["template"] == sum(plain.written.values())


def test_a_folder_that_is_no_usable_tokenizer_says_what_it_lacks(annotated, tokenizers, tmp_path):  # noqa: F811
    with pytest.raises(ConfigError, match="the tokenizer has no chat template"):
        _export(annotated, "x", check_template=tokenizers["none"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="not a Hugging Face tokenizer folder"):
        _export(annotated, "x", check_template=tmp_path / "empty")
    with pytest.raises(ConfigError, match="no such folder"):
        _export(annotated, "x", check_template=tmp_path / "missing")
    with pytest.raises(ExportError, match="--format alpaca writes no conversation"):
        _export(annotated, "x", format="alpaca", check_template=tokenizers["good"])
