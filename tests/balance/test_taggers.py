"""Edge-case taggers beyond people (issue 17): products, organizations, addresses, plugins."""

from __future__ import annotations

import json
import random
from importlib.metadata import EntryPoint
from typing import ClassVar

import polars as pl
import pytest

import curate.core.plugins
from curate.balance import edge_cases
from curate.balance.edge_cases import tag_pairs
from curate.balance.taggers import Addresses, Organizations, Products, Tagger
from curate.core.errors import ConfigError

PRODUCTS = [
    ("printmaster 17 gold", "printmaster gold v 17.0 (win 98 me 2000 xp)", "variant_differs"),
    ("Samsung 860 EVO SSD 500 GB", "Samsung 860 EVO SSD 1 TB", "units_differ"),
    ("canon eos 80d body", "canon eos 90d body", "model_number_differs"),
    ("adobe photoshop 7", "adobe photoshop 8", "version_differs"),
    ("photoshop elements 17", "photoshop elements 17.0", "exact_version"),  # see below
    ("office 2019 home", "microsoft office 2019 home", "brand_missing_one_side"),
    ("logitech mouse", "logitech mouse m185", "model_number_missing_one_side"),
    ("acme widget", "acme widget kit", "subset"),
    (
        "sony wh1000xm4 headphones",
        "wh1000xm4 wireless noise cancelling by sony",
        "model_number_equal",
    ),
    ("Dell XPS 13", "dell  xps 13", "case_accent_spacing"),
    ("Dell XPS 13", "Dell XPS 13", "exact"),
]
ORGANIZATIONS = [
    ("Acme Holdings Ltd", "ACME Hldgs.", "abbreviation"),
    ("Acme Holdings Ltd", "Acme Holdings Limited", "legal_form_variant"),
    ("Siemens AG", "Siemens", "legal_form_variant"),
    ("IBM", "International Business Machines", "acronym"),
    ("Smith and Jones", "Jones and Smith", "word_order"),
    ("Acme Ltd", "Globex Corporation", "different"),
    ("Café Noir SARL", "cafe noir sarl", "case_accent_spacing"),
]
ADDRESSES = [
    ("123 Main St, Springfield, IL 62701", "123 Main Street, Springfield, IL 62701", "street_type_abbreviation"),
    ("123 Main St, Springfield, IL 62701", "125 Main St, Springfield, IL 62701", "house_number_differs"),
    ("123 Main St, Springfield, IL 62701", "123 Main St, Springfield, IL", "postcode_missing_one_side"),
    ("123 Main St, Springfield, IL 62701", "123 Elm St, Springfield, IL 62701", "street_differs"),
    ("123 Main St Apt 4, Springfield, IL 62701", "123 Main St Apt 5, Springfield, IL 62701", "unit_differs"),
    ("123 Main St, Springfield, IL 62701", "123 Main St, Springfield, IL 62704", "postcode_differs"),
]  # fmt: skip


def _records(pairs: list[tuple[str, str]], field: str) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "record_id": [f"r{i}" for i in range(len(pairs))],
            "metadata": [json.dumps({"left": {field: a}, "right": {field: b}}) for a, b in pairs],
        }
    )


@pytest.mark.parametrize(
    ("key", "cases"),
    [("products", PRODUCTS), ("organizations", ORGANIZATIONS), ("addresses", ADDRESSES)],
)
def test_every_tag_on_hand_written_pairs(key, cases):
    records = _records([(a, b) for a, b, _ in cases], "f")
    tags = tag_pairs(records, {"left": "metadata.left", "right": "metadata.right", key: ["f"]})
    got = dict(zip(tags["record_id"], tags["tag"], strict=True))
    for i, (a, b, want) in enumerate(cases):
        if want == "exact_version":  # 17 and 17.0 are one version: nothing else differs
            assert got[f"r{i}"] == "different", (a, b)
            continue
        assert got[f"r{i}"] == want, (a, b, got[f"r{i}"])


def test_every_tag_a_tagger_declares_is_given_by_some_pair():
    given = {Products: set(), Organizations: set(), Addresses: set()}
    for cls, cases in (
        (Products, PRODUCTS),
        (Organizations, ORGANIZATIONS),
        (Addresses, ADDRESSES),
    ):
        for a, b, _ in cases:
            given[cls].add(cls.compare(a, b) if a != b else "exact")
    for cls, tags in given.items():
        missing = (
            set(cls.tags)
            - tags
            - {"missing_both", "missing_one_side", "different", "case_accent_spacing", "exact"}
        )
        assert not missing, (cls.name, missing)


BRANDS = ["acme", "globex", "initech", "umbrella", "stark", "wayne", "tyrell", "cyberdyne"]
KINDS = ["laptop", "monitor", "router", "keyboard", "camera", "speaker", "drive", "tablet"]


def _title(rng: random.Random) -> dict:
    return {
        "brand": rng.choice(BRANDS),
        "kind": rng.choice(KINDS),
        "model": f"{rng.choice('abcxyz')}{rng.randrange(100, 999)}",
        "size": rng.choice(["256 GB", "512 GB", "1 TB", "2 TB"]),
        "version": rng.randrange(2, 12),
    }


def _render(t: dict, drop_brand: bool = False) -> str:
    words = [t["brand"], t["kind"], t["model"], t["size"], f"v{t['version']}"]
    return " ".join(words[1:] if drop_brand else words)


PLANTS = {
    "model_number_differs": lambda t, r: (
        t | {"model": t["model"][0] + str(int(t["model"][1:]) + 1)}
    ),
    "units_differ": lambda t, r: t | {"size": "4 TB" if t["size"] != "4 TB" else "8 TB"},
    "version_differs": lambda t, r: t | {"version": t["version"] + 1},
    "brand_missing_one_side": None,  # the same title without its brand
}


def test_product_tags_are_precise_on_planted_variations():
    """Titles generated from varied parts; each pair varies in one planted way (or not at
    all): every tag given must be the planted one."""
    rng = random.Random(17)
    pairs, planted = [], []
    for i in range(400):
        title = _title(rng)
        kind = list(PLANTS)[i % 4] if i % 5 else "same"
        if kind == "same":
            other = _render(title).upper()
        elif kind == "brand_missing_one_side":
            other = _render(title, drop_brand=True)
        else:
            other = _render(PLANTS[kind](title, rng))
        pairs.append((_render(title), other))
        planted.append("case_accent_spacing" if kind == "same" else kind)
    tags = tag_pairs(_records(pairs, "title"), {"products": ["title"]})["tag"].to_list()
    for tag in set(planted):
        given = [p for p, t in zip(planted, tags, strict=True) if t == tag]
        precision = sum(p == tag for p in given) / len(given)
        recall = sum(
            t == tag for p, t in zip(planted, tags, strict=True) if p == tag
        ) / planted.count(tag)
        assert precision == 1.0 and recall >= 0.95, (tag, precision, recall)


class Colours(Tagger):
    """A throwaway tagger of a team's own domain."""

    name: ClassVar[str] = "colours"
    tags: ClassVar[tuple[str, ...]] = ("shade_of_the_same", "exact", "different")

    def tag(self, sides, field, fields):
        same = {"navy": "blue", "crimson": "red"}
        a, b = pl.col(f"l.{field}"), pl.col(f"r.{field}")
        base_a = a.replace(same)
        base_b = b.replace(same)
        return sides.select(
            pl.when(a == b)
            .then(pl.lit("exact"))
            .when(base_a == base_b)
            .then(pl.lit("shade_of_the_same"))
            .otherwise(pl.lit("different"))
            .alias("tag")
        )["tag"]


def test_a_third_party_tagger_registers_and_tags(monkeypatch):
    real = curate.core.plugins.entry_points
    point = EntryPoint("colours", "tests.balance.test_taggers:Colours", edge_cases.GROUP)
    monkeypatch.setattr(
        curate.core.plugins,
        "entry_points",
        lambda group: (
            [*real(group=group), point] if group == edge_cases.GROUP else real(group=group)
        ),
    )
    edge_cases.available.cache_clear()
    try:
        records = _records([("navy", "blue"), ("red", "red"), ("navy", "red")], "colour")
        tags = tag_pairs(records, {"colours": ["colour"]})["tag"].to_list()
        assert tags == ["shade_of_the_same", "exact", "different"]
        assert "shade_of_the_same" in edge_cases.priority()
    finally:
        edge_cases.available.cache_clear()


def test_an_unknown_pair_key_says_which_taggers_there_are():
    with pytest.raises(ConfigError, match=r"under colors, which no edge-case tagger reads"):
        tag_pairs(_records([("a", "b")], "c"), {"colors": ["c"]})


def test_balance_files_products_under_their_tags(workspace):
    """Balance's strata use every tagger's tags: a product task's candidates carry them."""
    from curate.balance.stage import BalanceSettings, balance_candidates
    from curate.core.config import Config
    from curate.core.project import Project
    from curate.detect.stage import find_failures
    from tests.detect.detectors.helpers import put

    rows = []
    for i, (a, b, _) in enumerate(PRODUCTS * 3):
        rows.append(
            {
                "output": '{"decision": "match"}' if i % 2 else '{"decision": "maybe"}',
                "metadata": json.dumps({"left": {"title": a}, "right": {"title": b}}),
                "messages": [{"role": "user", "content": f"{a} | {b} #{i}"}],
            }
        )
    put(workspace, rows, task="pm")
    task = {
        "kind": "pair_match",
        "labels": ["match", "non_match"],
        "parse": {"mode": "json", "field": "decision"},
        "pair": {"left": "metadata.left", "right": "metadata.right", "products": ["title"]},
    }
    config = Config(data={"tasks": {"pm": task}})
    find_failures(Project(workspace, config))
    balance_candidates(Project(workspace, config), BalanceSettings(target=30, controls=0.5))
    edges = set(workspace.read_table("candidates")["edge_case"])
    assert {"variant_differs", "units_differ", "model_number_differs"} <= edges
