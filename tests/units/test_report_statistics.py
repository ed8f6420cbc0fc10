"""The report's statistics without a workspace: the plateau verdict on both sides of every
bound of its margin, against the published formulas (tests/units/formulas.py)."""

from __future__ import annotations

import pytest

from curate.report.stage import plateau_verdict
from tests.units.formulas import newcombe_by_formula, wilson_by_formula


def _expected_verdict(low: float, high: float, before_rate: float) -> str:
    """The rule of the README, written out: the margin is a tenth of the earlier failure rate,
    at least 0.1 points."""
    margin = max(0.1 * before_rate, 0.001)
    if -margin <= low and high <= margin:
        return "plateaued: fine-tune on the failures"
    if high < 0:
        return "improving: the latest prompt fails less; prompting still helps"
    if low > 0:
        return "worse: the latest prompt fails more"
    return "not enough calls to tell"


@pytest.mark.parametrize(
    ("calls", "failures", "verdict"),
    [
        ([100_000, 100_000], [22_000, 21_900], "plateaued"),
        ([20, 20], [5, 4], "not enough calls to tell"),
        ([5_000, 5_000], [1_100, 800], "improving"),
        ([5_000, 5_000], [800, 1_100], "worse"),
        ([3_000, 3_000, 100_000, 100_000], [900, 600, 20_000, 20_100], "plateaued"),
        # 10.0% then 8.5% of 20,000 (p < 1e-6): an improvement, not "cannot tell"
        ([20_000, 20_000], [2_000, 1_700], "improving"),
        # failures halved, 3.0% to 1.5%: an improvement, though within 2 points
        ([20_000, 20_000], [600, 300], "improving"),
        # 30 calls at 20% each: nothing can be told
        ([30, 30], [6, 6], "not enough calls to tell"),
        # a small but certain change, within a tenth of the earlier rate: plateaued
        ([2_000_000, 2_000_000], [200_000, 199_000], "plateaued"),
        # certain and larger than the margin, but less than 2 points: worse
        ([200_000, 200_000], [10_000, 12_000], "worse"),
    ],
)
def test_plateau_verdict_follows_the_intervals(calls, failures, verdict):

    names = [f"v{i + 1}" for i in range(len(calls))]
    result = plateau_verdict(names, calls, failures)
    assert result["verdict"].startswith(verdict)
    assert [v["prompt_version"] for v in result["versions"]] == names  # every version, in order
    low, high = newcombe_by_formula(failures[-1], calls[-1], failures[-2], calls[-2])
    assert result["change"]["ci"] == [
        pytest.approx(low, rel=1e-4, abs=1e-7),
        pytest.approx(high, rel=1e-4, abs=1e-7),
    ]
    assert result["verdict"] == _expected_verdict(low, high, failures[-2] / calls[-2])
    assert result["margin"] == pytest.approx(max(0.1 * failures[-2] / calls[-2], 0.001), rel=1e-9)
    for v, n, k in zip(result["versions"], calls, failures, strict=True):
        assert v["ci"] == [pytest.approx(x, rel=1e-4, abs=1e-7) for x in wilson_by_formula(k, n)]
    assert plateau_verdict(["v1"], [10], [3])["verdict"] == "no trend yet"


def test_plateau_margin_is_configurable():

    # 10.0% to 9.0%, certain: a tenth of 10% is 1 point, so the default calls it plateaued only
    # when the whole interval is within it; a margin of 30% of the rate (3 points) does
    default = plateau_verdict(["a", "b"], [50_000, 50_000], [5_000, 4_500])
    wide = plateau_verdict(["a", "b"], [50_000, 50_000], [5_000, 4_500], margin=0.3)
    assert default["verdict"].startswith("improving")
    assert wide["verdict"].startswith("plateaued") and wide["margin"] == pytest.approx(
        0.03, rel=1e-12
    )
    floored = plateau_verdict(["a", "b"], [50_000, 50_000], [0, 1], floor=0.01)
    assert floored["margin"] == 0.01 and floored["verdict"].startswith("plateaued")
    assert "within +-1.00 points" in floored["why"]


def _interval(calls, failures):
    return newcombe_by_formula(failures[1], calls[1], failures[0], calls[0])


def test_plateaued_holds_at_the_margin_itself_and_not_beyond():
    calls, failures = [50_000, 50_000], [5_000, 4_990]  # an interval around 0
    low, high = _interval(calls, failures)
    assert low < 0 < high and abs(low) > high
    # the floor set to the interval's outer end: within (<=), and a hair less: not within
    edge = plateau_verdict(["a", "b"], calls, failures, margin=0, floor=-low)
    assert edge["verdict"].startswith("plateaued") and edge["margin"] == -low
    below = plateau_verdict(["a", "b"], calls, failures, margin=0, floor=-low * (1 - 1e-9))
    assert below["verdict"] == "not enough calls to tell"
    # the same on the upper end, the sides swapped
    swapped = [failures[1], failures[0]]
    low2, high2 = _interval(calls, swapped)
    assert high2 == pytest.approx(-low, rel=1e-9) and low2 == pytest.approx(-high, rel=1e-9)
    assert plateau_verdict(["a", "b"], calls, swapped, margin=0, floor=high2)["verdict"].startswith(
        "plateaued"
    )
    off = plateau_verdict(["a", "b"], calls, swapped, margin=0, floor=high2 * (1 - 1e-9))
    assert off["verdict"] == "not enough calls to tell"


def test_the_margin_is_the_larger_of_its_share_and_its_floor():
    calls = [10_000, 10_000]
    # 20% before: a tenth is 2 points, above a 1-point floor
    assert plateau_verdict(["a", "b"], calls, [2_000, 2_000])["margin"] == pytest.approx(
        0.02, rel=1e-12
    )
    share = plateau_verdict(["a", "b"], calls, [2_000, 2_000], margin=0.1, floor=0.01)
    assert share["margin"] == pytest.approx(0.02, rel=1e-12)
    floor = plateau_verdict(["a", "b"], calls, [2_000, 2_000], margin=0.01, floor=0.01)
    assert floor["margin"] == pytest.approx(0.01, rel=1e-12)
    # the share is of the earlier rate (20%), not of the latest (10%)
    later = plateau_verdict(["a", "b"], calls, [2_000, 1_000], margin=0.1, floor=0)
    assert later["margin"] == pytest.approx(0.02, rel=1e-12)


def test_a_certain_change_has_its_direction_with_no_margin():
    calls, failures = [400, 400], [100, 70]
    assert _interval(calls, failures)[1] < 0
    assert plateau_verdict(["a", "b"], calls, failures, margin=0, floor=0)["verdict"].startswith(
        "improving"
    )
    assert plateau_verdict(["a", "b"], calls, failures[::-1], margin=0, floor=0)[
        "verdict"
    ].startswith("worse")


def test_the_verdict_is_on_the_last_two_versions_in_their_order():
    result = plateau_verdict(["v1", "v2", "v3"], [5_000] * 3, [500, 1_500, 500])
    assert result["latest"] == "v3" and result["verdict"].startswith("improving")
    assert result["latest_failure_rate"] == pytest.approx(0.1, rel=1e-12)
    assert result["change"]["difference"] == pytest.approx(0.1 - 0.3, rel=1e-12)
    assert result["versions"][1] == {
        "prompt_version": "v2",
        "calls": 5_000,
        "failures": 1_500,
        "rate": 0.3,
        "ci": pytest.approx(wilson_by_formula(1_500, 5_000), rel=1e-9),
    }
    assert result["confidence"] == pytest.approx(0.95, rel=1e-12)


def test_the_why_says_every_number():
    result = plateau_verdict(["old", "new"], [1_000, 2_000], [100, 450], margin=0.2, floor=0.05)
    low, high = _interval([1_000, 2_000], [100, 450])
    assert 0.09 < low < high < 0.16  # far enough from 0 that each digit is read
    assert result["why"] == (
        f"old failed 10.0% of 1000 calls, new 22.5% of 2000: a change of +12.50 points, 95% "
        f"interval {low * 100:+.2f} to {high * 100:+.2f} (plateau: within +-5.00 points, 20% of "
        "the earlier rate, at least 5.00)"
    )
    with pytest.raises(ValueError, match="zip"):
        plateau_verdict(["a", "b"], [10, 10, 10], [1, 2, 3])
    one = plateau_verdict(["only"], [10], [3])
    assert one == {
        "versions": [
            {
                "prompt_version": "only",
                "calls": 10,
                "failures": 3,
                "rate": 0.3,
                "ci": pytest.approx(wilson_by_formula(3, 10), rel=1e-9),
            }
        ],
        "confidence": pytest.approx(0.95, rel=1e-12),
        "verdict": "no trend yet",
        "why": "only one prompt version in the logs",
    }
