"""Warm what curate imports lazily, inside functions: collected once by mutmut's fork server
(`make mutate`), these are inherited by every mutant's process instead of imported by each."""

from __future__ import annotations

import importlib

for _module in (
    "krippendorff",
    "scipy.stats",
    "statsmodels.stats.contingency_tables",
    "statsmodels.stats.inter_rater",
    "statsmodels.stats.proportion",
    "packaging.version",
    "cleanco",
    "usaddress",
    "pint",
    "filelock",
):
    importlib.import_module(_module)
