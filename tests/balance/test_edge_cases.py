from __future__ import annotations

import csv
import json

import polars as pl

from curate.balance.edge_cases import tag_pairs

PAIR = {
    "left": "metadata.left",
    "right": "metadata.right",
    "names": ["first_name", "surname"],
    "dates": ["dob"],
    "other": ["city"],
}


def _tags(pairs):
    frame = pl.DataFrame(
        {
            "record_id": [str(i) for i in range(len(pairs))],
            "metadata": [json.dumps({"left": a, "right": b}) for a, b in pairs],
        }
    )
    tags = tag_pairs(frame, PAIR)
    return {(r, f): t for r, f, t in tags.iter_rows()}


def person(first="Robert", surname="Smith", dob="1980-02-03", city="Leeds"):
    return {"first_name": first, "surname": surname, "dob": dob, "city": city}


def test_name_tags_on_hand_written_pairs():
    tags = _tags(
        [
            (person(), person()),
            (person(first="Zoë"), person(first="zoe ")),
            (person(), person(first="Bob")),
            (person(), person(first="R.")),
            (person(), person(first="Smith", surname="Robert")),
            (person(surname="Smith Jones"), person(surname="Jones Smith")),
            (person(), person(surname="Smiht")),
            (person(), person(first=None)),
            (person(), person(surname="Okafor")),
        ]
    )
    assert [tags[(str(i), "first_name")] for i in range(5)] == [
        "exact",
        "case_accent_spacing",
        "nickname",
        "initial",
        "first_last_swapped",
    ]
    assert tags[("4", "surname")] == "first_last_swapped"
    assert tags[("5", "surname")] == "tokens_reordered"
    assert tags[("6", "surname")] == "typo"
    assert tags[("7", "first_name")] == "missing_one_side"
    assert tags[("8", "surname")] == "different"


def test_date_and_other_tags():
    tags = _tags(
        [
            (person(), person(dob="1980")),
            (person(), person(dob="1980-02")),
            (person(dob="1980-02-03"), person(dob="1980-03-02")),
            (person(dob="1980-02-03"), person(dob="1908-02-03")),
            (person(dob="1980-02-03"), person(dob="1980-02-09")),
            (person(dob="1980-02-03"), person(dob=None)),
            (person(dob="1980-02-03"), person(dob="1991-07-21")),
            (person(city="Leeds"), person(city="LEEDS")),
        ]
    )
    got = [tags[(str(i), "dob")] for i in range(7)]
    assert got == [
        "partial_date",
        "partial_date",
        "day_month_swapped",
        "digit_transposition",
        "off_by_a_little",
        "missing_one_side",
        "different",
    ]
    assert tags[("7", "city")] == "case_accent_spacing"


def test_tags_find_what_a_person_sees_in_the_splink_pairs(shared_data):
    folder = shared_data / "splink_person_er"
    with open(folder / "fake_1000.csv") as fh:
        people = {
            r["unique_id"]: {
                k: (v or None) for k, v in r.items() if k not in ("unique_id", "cluster")
            }
            for r in csv.DictReader(fh)
        }
    with open(folder / "fake_1000_labels.csv") as fh:
        labels = list(csv.DictReader(fh))
    frame = pl.DataFrame(
        {
            "record_id": [f"{p['unique_id_l']}-{p['unique_id_r']}" for p in labels],
            "metadata": [
                json.dumps({"left": people[p["unique_id_l"]], "right": people[p["unique_id_r"]]})
                for p in labels
            ],
        }
    )
    tags = tag_pairs(frame, {**PAIR, "other": ["city", "email"]})
    got = {(r, f): t for r, f, t in tags.iter_rows()}
    # records 0-3 of the file: Robert Alan / Robert Allen / Rob Allen / Robert Alen
    assert got[("0-2", "first_name")] == "nickname"  # Robert vs Rob
    assert got[("0-1", "dob")] == "off_by_a_little"  # 1971-06-24 vs 1971-05-24
    assert got[("1-3", "surname")] == "typo"  # Allen vs Alen
    swapped = tags.filter(pl.col("tag") == "first_last_swapped")
    assert swapped.height > 100  # Isla Hall / Hall Isla and their like
    counts = dict(tags.filter(pl.col("field") == "first_name").group_by("tag").len().iter_rows())
    assert counts["typo"] > 100 and counts["nickname"] >= 3 and counts["missing_one_side"] > 100
    # every labelled pair gets one tag per field
    assert tags.height == len(labels) * 5
