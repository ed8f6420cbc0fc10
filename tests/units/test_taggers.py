"""The product, organization and address taggers pair by pair: every tag, and the pair just on
the other side of its rule. Expected tags are written by hand."""

from __future__ import annotations

import polars as pl
import pytest

from curate.balance.taggers import (
    BASIC,
    Addresses,
    Organizations,
    Products,
    _quantities,
    _subsequence,
)


@pytest.mark.parametrize(
    ("a", "b", "tag"),
    [
        ("Acme X100 Drill", "ACME  x100 drill", "case_accent_spacing"),
        ("Acme X100 Drill", "Acme X200 Drill", "model_number_differs"),
        ("Acme X100 Drill", "Acme X100 X200 Drill", "subset"),  # share one: not differing
        ("WD Drive 1 TB", "WD Drive 1000 GB", "different"),  # 1 TB is 1000 GB: units agree
        ("WD Drive 1 TB", "WD Drive 2 TB", "units_differ"),
        ("WD Drive 1 TB", "WD Drive 1024 GB", "units_differ"),
        ("WD Drive 1.5 TB", "WD Drive 1.6 TB", "units_differ"),
        ("Cam 12 MP 32 GB", "Cam 12 MP 64 GB", "units_differ"),
        ("Cam 12 MP 32 GB", "Cam 16 MP 32 GB", "units_differ"),
        ("Drive 500 GB 7200", "Drive 500 GB 5400", "version_differs"),
        ("Office 2019 Home", "Office 2019 Pro", "variant_differs"),
        ("Photoshop 17", "Photoshop 17.0", "different"),  # 17 and 17.0: one version
        ("Photoshop 17", "Photoshop 18", "version_differs"),
        ("Acme Drill", "Acme Drill X100", "model_number_missing_one_side"),
        ("Acme Cordless Drill", "Cordless Drill", "brand_missing_one_side"),
        ("Acme Drill", "Bosch Drill", "different"),  # two brands, not one missing
        ("Acme Drill", "Acme Drill Kit", "subset"),
        ("Acme Drill Kit", "Acme Drill", "subset"),
        ("Acme Drill", "Bosch Saw", "different"),
        ("Acme X100 Drill", "Bosch X100 Saw", "model_number_equal"),
    ],
)
def test_products(a, b, tag):
    assert Products.compare(a, b) == tag
    assert Products.compare(b, a) == tag  # both orders


def test_quantities_are_in_base_units():
    assert _quantities("1 tb") == {"dimensionless": 8e12}  # in bits
    assert _quantities("1 tb") == _quantities("1000 gb") != _quantities("1024 gb")
    assert _quantities("1,5 tb") == _quantities("1.5 tb")  # a decimal comma
    assert _quantities("2.5 kg and 3 in") == {
        "[mass]": 2.5,
        "[length]": pytest.approx(0.0762, rel=1e-9),
    }
    assert _quantities("12 mp") == {"[picture_element]": 12e6}  # a million pixels
    # megapixels and bytes are two quantities, in either order
    assert _quantities("12 mp 32 gb") == _quantities("32 gb 12 mp")
    assert Products.compare("Camera 12 MP 32 GB", "Camera 32GB 12MP") != "units_differ"
    assert _quantities("no units") == {}


@pytest.mark.parametrize(
    ("a", "b", "tag"),
    [
        ("Acme Holdings Ltd", "ACME holdings ltd.", "case_accent_spacing"),
        ("Acme Holdings Ltd", "Acme Holdings Inc", "legal_form_variant"),
        ("Acme Holdings", "Holdings Acme", "word_order"),
        ("IBM", "International Business Machines", "acronym"),
        ("IBX", "International Business Machines", "different"),
        ("Acme Hldgs", "Acme Holdings", "abbreviation"),
        ("Acme Hdlgs", "Acme Holdings", "different"),  # not in order: no abbreviation
        ("Acme Holdings", "Acme Group", "different"),
        ("Acme", "Acme Group Holdings", "different"),
    ],
)
def test_organizations(a, b, tag):
    assert Organizations.compare(a, b) == tag
    assert Organizations.compare(b, a) == tag


def test_subsequence():
    assert _subsequence("hldgs", "holdings")
    assert not _subsequence("ldgs", "holdings")  # another first letter
    assert not _subsequence("holdings", "holdings")  # not shorter
    assert not _subsequence("", "holdings") and not _subsequence("h", "")
    assert not _subsequence("hsg", "holdings")  # out of order


@pytest.mark.parametrize(
    ("a", "b", "tag"),
    [
        (
            "12 Main St, Springfield IL 62704",
            "12 MAIN ST Springfield IL 62704",
            "case_accent_spacing",
        ),
        (
            "12 Main St, Springfield IL 62704",
            "14 Main St, Springfield IL 62704",
            "house_number_differs",
        ),
        ("12 Main St, Springfield IL 62704", "12 Oak St, Springfield IL 62704", "street_differs"),
        (
            "12 Main St Apt 4, Springfield IL 62704",
            "12 Main St Apt 5, Springfield IL 62704",
            "unit_differs",
        ),
        (
            "12 Main St, Springfield IL 62704",
            "12 Main St, Springfield IL 62705",
            "postcode_differs",
        ),
        (
            "12 Main St, Springfield IL 62704",
            "12 Main St, Springfield IL",
            "postcode_missing_one_side",
        ),
        (
            "12 Main Street, Springfield IL",
            "12 Main Str, Springfield IL",
            "street_type_abbreviation",
        ),
        ("12 Main St, Springfield IL", "12 Main Ave, Springfield IL", "different"),
    ],
)
def test_addresses(a, b, tag):
    assert Addresses.compare(a, b) == tag
    assert Addresses.compare(b, a) == tag


def test_a_column_of_pairs_gets_the_basic_tags_and_one_tag_a_row():
    sides = pl.DataFrame(
        {
            "l.title": ["Acme Drill", None, "Acme Drill", None, "Acme Drill", "Acme Drill"],
            "r.title": ["Acme Drill", None, None, "Saw", "Bosch Saw", "Acme Drill Kit"],
        }
    )
    got = Products().tag(sides, "title", ["title"]).to_list()
    assert got == [
        "exact",
        "missing_both",
        "missing_one_side",
        "missing_one_side",
        "different",
        "subset",
    ]
    assert BASIC == ("missing_both", "missing_one_side", "exact", "case_accent_spacing")
    for tagger in (Products, Organizations, Addresses):
        assert set(BASIC) <= set(tagger.tags) and tagger.tags[-1] == "different"


@pytest.mark.parametrize(
    ("a", "b", "tag"),
    [
        ("Acme Drill v10", "Acme Drill v11", "version_differs"),  # v10 is a version, not a model
        ("Acme x10", "Acme x20", "model_number_differs"),  # three characters: a model number
        ("Box 1 kg", "Box 2 GB", "different"),  # no quantity in common: no unit differs
        ("Drill Acme Cordless", "Acme Cordless Drill", "different"),  # the same words: no subset
    ],
)
def test_products_at_the_edges_of_their_rules(a, b, tag):
    assert Products.compare(a, b) == tag
    assert Products.compare(b, a) == tag


@pytest.mark.parametrize(
    ("a", "b", "tag"),
    [
        ("IB", "International Business", "acronym"),  # two words are enough
        ("A", "Apex", "abbreviation"),  # one word against one: no acronym
    ],
)
def test_organizations_at_the_edges_of_their_rules(a, b, tag):
    assert Organizations.compare(a, b) == tag
    assert Organizations.compare(b, a) == tag
