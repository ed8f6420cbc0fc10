"""Edge-case taggers for entity pairs beyond people: products, organizations, addresses.

Each tagger is a plugin (entry point group `curate.edge_cases`) named by the key of
`[tasks.NAME.pair]` that lists its fields:

    [tasks.product_match.pair]
    left = "metadata.left"
    right = "metadata.right"
    products = ["title"]
    organizations = ["manufacturer"]
    addresses = ["address"]

A tagger gets the two sides of one field for every pair and gives each pair one tag, the most
telling that applies (its `tags` are in that order). The person taggers (names, dates, other)
are in curate/balance/edge_cases.py, behind the same interface.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache, lru_cache
from typing import ClassVar

import polars as pl

# shared by every tagger: what makes nothing about a pair hard, or nothing to compare
BASIC = ("missing_both", "missing_one_side", "exact", "case_accent_spacing")


class Tagger:
    """Tags one field of every pair. `name` is the pair spec key that lists its fields;
    `tags` every tag it gives, most telling first (balance files a record under its most
    telling tag)."""

    name: ClassVar[str]
    tags: ClassVar[tuple[str, ...]]

    def tag(self, sides: pl.DataFrame, field: str, fields: list[str]) -> pl.Series:
        """One tag per row of `sides` for `field` (columns `l.FIELD` and `r.FIELD`, text or
        null); `fields` are all the fields this tagger got, for taggers that compare across."""
        raise NotImplementedError


def _basic(left: str | None, right: str | None) -> str | None:
    if left is None and right is None:
        return "missing_both"
    if left is None or right is None:
        return "missing_one_side"
    if left == right:
        return "exact"
    return None


@lru_cache(maxsize=1 << 16)
def _fold(text: str) -> str:
    """text.name_key for one string, in Python (it is called per value, not per column)."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if unicodedata.category(c) != "Mn").lower()
    return " ".join(re.sub(r"[\W_]+", " ", plain).split())


def _pairwise(sides: pl.DataFrame, field: str, tag_one) -> pl.Series:
    """tag_one over the distinct pairs of the field (logs repeat them), one tag per row."""
    pairs = sides.select(pl.col(f"l.{field}").alias("a"), pl.col(f"r.{field}").alias("b"))
    distinct = pairs.unique()
    tags = [_basic(a, b) or tag_one(a, b) for a, b in distinct.iter_rows()]
    lookup = distinct.with_columns(pl.Series("tag", tags, dtype=pl.String))
    joined = pairs.join(lookup, on=["a", "b"], how="left", nulls_equal=True, maintain_order="left")
    return joined["tag"]


class ValueTagger(Tagger):
    """A tagger that compares one pair's two values at a time (`compare`); each distinct pair
    of values is compared once."""

    @staticmethod
    def compare(a: str, b: str) -> str:
        raise NotImplementedError

    def tag(self, sides: pl.DataFrame, field: str, fields: list[str]) -> pl.Series:
        return _pairwise(sides, field, self.compare)


# -- products ------------------------------------------------------------------------------------

UNIT = re.compile(
    r"(\d+(?:[.,]\d+)?)\s*(tb|gb|mb|kb|ghz|mhz|khz|hz|mm|cm|in|inch|inches|kg|g|lb|lbs|oz|"
    r"mah|ml|l|w|v|mp)\b"
)
PINT_UNITS = {
    "tb": "terabyte", "gb": "gigabyte", "mb": "megabyte", "kb": "kilobyte",
    "ghz": "gigahertz", "mhz": "megahertz", "khz": "kilohertz", "hz": "hertz",
    "mm": "millimeter", "cm": "centimeter", "in": "inch", "inch": "inch", "inches": "inch",
    "kg": "kilogram", "g": "gram", "lb": "pound", "lbs": "pound", "oz": "ounce",
    "mah": "milliampere_hour", "ml": "milliliter", "l": "liter", "w": "watt", "v": "volt",
    "mp": "megapixel",
}  # fmt: skip
VERSION = re.compile(r"\b(?:v|ver|version|edition|release)?\s?(\d+(?:\.\d+)*)\b")
# platform and edition words: a pair whose titles differ in these is not the same product
VARIANTS = frozenset(
    "win windows mac macos osx linux android ios pro gold premium deluxe standard home "  # noqa: SIM905
    "professional basic ultimate lite plus enterprise student upgrade".split()
)


@cache
def _units():
    import pint

    registry = pint.UnitRegistry()
    # a dimension of its own: as a count, 12 MP and 32 GB (bits, dimensionless) would be one
    # quantity, and "12 MP 32 GB" against "32 GB 12 MP" would differ in it
    registry.define("picture_element = [picture_element]")
    registry.define("megapixel = 1e6 * picture_element")
    return registry


@lru_cache(maxsize=1 << 16)
def _quantities(text: str) -> dict[str, float]:
    """dimensionality -> magnitude in base units, for every number with a unit in the text."""
    registry = _units()
    out: dict[str, float] = {}
    for number, unit in UNIT.findall(text):
        quantity = registry.Quantity(float(number.replace(",", ".")), PINT_UNITS[unit])
        base = quantity.to_base_units()
        out.setdefault(str(base.dimensionality), round(float(base.magnitude), 6))
    return out


def _tokens(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+(?:\.[0-9]+)*", text.lower())


def _model_numbers(tokens: list[str]) -> set[str]:
    """Tokens that mix letters and digits (a model or part number), units aside."""
    return {
        t
        for t in tokens
        if len(t) >= 3
        and re.search(r"[a-z]", t)
        and re.search(r"\d", t)
        and not UNIT.fullmatch(t)
        and not re.fullmatch(r"v\d+(\.\d+)*", t)
    }


def _versions(text: str) -> set:
    """Version numbers, compared as versions are (17 and 17.0 are the same version)."""
    from packaging.version import Version

    return {Version(v) for v in VERSION.findall(UNIT.sub(" ", text.lower()))}


class Products(ValueTagger):
    name: ClassVar[str] = "products"
    tags: ClassVar[tuple[str, ...]] = (
        "model_number_differs",
        "units_differ",
        "version_differs",
        "variant_differs",
        "model_number_missing_one_side",
        "brand_missing_one_side",
        "subset",
        "model_number_equal",
        *BASIC,
        "different",
    )

    @staticmethod
    def compare(a: str, b: str) -> str:
        if _fold(a) == _fold(b):
            return "case_accent_spacing"
        ta, tb = _tokens(a), _tokens(b)
        ma, mb = _model_numbers(ta), _model_numbers(tb)
        if ma and mb and not ma & mb:
            return "model_number_differs"
        qa, qb = _quantities(a.lower()), _quantities(b.lower())
        if any(qa[d] != qb[d] for d in qa.keys() & qb.keys()):
            return "units_differ"
        va, vb = _versions(a), _versions(b)
        if va and vb and not va & vb:
            return "version_differs"
        if (VARIANTS & set(ta)) != (VARIANTS & set(tb)):
            return "variant_differs"
        if bool(ma) != bool(mb):
            return "model_number_missing_one_side"
        if ta and tb and ta[0] != tb[0] and (ta[0] not in tb) != (tb[0] not in ta):
            return "brand_missing_one_side"
        sa, sb = set(ta), set(tb)
        if sa < sb or sb < sa:
            return "subset"
        if ma and ma == mb:
            return "model_number_equal"
        return "different"


# -- organizations -------------------------------------------------------------------------------


def _subsequence(short: str, long: str) -> bool:
    """`short` is `long` with letters left out, same first letter: Hldgs / Holdings."""
    if not short or not long or short[0] != long[0] or len(short) >= len(long):
        return False
    it = iter(long)
    return all(c in it for c in short)


@lru_cache(maxsize=1 << 16)
def _basename(name: str) -> str:
    """The name without its legal form (cleanco): Acme Holdings Ltd -> Acme Holdings."""
    from cleanco import basename

    return basename(name)


class Organizations(ValueTagger):
    name: ClassVar[str] = "organizations"
    tags: ClassVar[tuple[str, ...]] = (
        "acronym",
        "abbreviation",
        "word_order",
        "legal_form_variant",
        *BASIC,
        "different",
    )

    @staticmethod
    def compare(a: str, b: str) -> str:
        if _fold(a) == _fold(b):
            return "case_accent_spacing"
        ba, bb = _fold(_basename(a)), _fold(_basename(b))
        if ba == bb and ba:
            return "legal_form_variant"
        wa, wb = ba.split(), bb.split()
        if sorted(wa) == sorted(wb):
            return "word_order"
        for short, long in ((wa, wb), (wb, wa)):
            if len(short) == 1 and len(long) > 1 and short[0] == "".join(w[0] for w in long):
                return "acronym"
        if (
            len(wa) == len(wb)
            and wa != wb
            and all(
                x == y or _subsequence(x, y) or _subsequence(y, x)
                for x, y in zip(wa, wb, strict=True)
            )
        ):
            return "abbreviation"
        return "different"


# -- addresses -----------------------------------------------------------------------------------


@lru_cache(maxsize=1 << 16)
def _address(text: str) -> dict[str, str]:
    """The parts usaddress finds (AddressNumber, StreetName, StreetNamePostType, ZipCode, ...),
    each folded; an address it cannot tag yields what it could."""
    import usaddress

    try:
        parsed, _ = usaddress.tag(text)
    except usaddress.RepeatedLabelError as exc:
        parsed = {}
        for value, label in exc.parsed_string:
            parsed.setdefault(label, value)
    return {label: _fold(value) for label, value in parsed.items()}


class Addresses(ValueTagger):
    name: ClassVar[str] = "addresses"
    tags: ClassVar[tuple[str, ...]] = (
        "house_number_differs",
        "street_differs",
        "unit_differs",
        "postcode_differs",
        "postcode_missing_one_side",
        "street_type_abbreviation",
        *BASIC,
        "different",
    )

    @staticmethod
    def compare(a: str, b: str) -> str:
        if _fold(a) == _fold(b):
            return "case_accent_spacing"
        pa, pb = _address(a), _address(b)

        def both(part: str) -> bool:
            return part in pa and part in pb

        if both("AddressNumber") and pa["AddressNumber"] != pb["AddressNumber"]:
            return "house_number_differs"
        if both("StreetName") and pa["StreetName"] != pb["StreetName"]:
            return "street_differs"
        if both("OccupancyIdentifier") and pa["OccupancyIdentifier"] != pb["OccupancyIdentifier"]:
            return "unit_differs"
        if both("ZipCode") and pa["ZipCode"] != pb["ZipCode"]:
            return "postcode_differs"
        if ("ZipCode" in pa) != ("ZipCode" in pb):
            return "postcode_missing_one_side"
        ta, tb = pa.get("StreetNamePostType", ""), pb.get("StreetNamePostType", "")
        if ta and tb and ta != tb and (_subsequence(ta, tb) or _subsequence(tb, ta)):
            return "street_type_abbreviation"
        return "different"


__all__ = ["Addresses", "Organizations", "Products", "Tagger", "ValueTagger"]
