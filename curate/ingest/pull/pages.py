"""One page of a trace store, as a pull hands it to ingest."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class Page:
    items: list[Any]  # in the shape the store's format reads, one per line
    ids: list[str]  # what each item is in the store ("span 1a2b..."), for quarantine
    cursor: Any  # where the next page starts: committed with this page's records
    url: str  # the request that answered it (never the key: that is in a header)
    read: int  # items the store gave, before [pulls.filter] dropped any
    filtered: int = 0  # dropped by a filter the store's API cannot apply (model, tags, names)
    gone: int = 0  # listed, and could not be fetched: deleted since, or listed with no id
