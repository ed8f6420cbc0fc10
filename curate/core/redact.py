"""Personal data out of the labelling UI, the training set and the judge's prompts, by default.

Detection is Microsoft Presidio's: its pattern recognizers (email, phone, credit card, IBAN, IP
address, URL, US SSN and others) always; people's names and places (PERSON, LOCATION) too when a
spaCy English model is installed (`en_core_web_lg`, `_md` or `_sm`: not on the package index,
so not installed by curate; without one, a blank spaCy pipeline tokenizes and only the patterns
run). Everything runs offline.

Without a policy, a task gets the pattern entities (emails, phone numbers, credit cards, IBANs,
IP addresses, US SSNs) as pseudonyms everywhere; `[tasks.NAME] redact = false` turns redaction
off. A policy is per task, in curate.toml:

    [tasks.entity_match.redact]
    entities = ["EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE"]   # default: these
    action = "pseudonym"          # mask | pseudonym | keep (default: pseudonym)
    actions = { IBAN_CODE = "mask" }   # per entity type
    where = ["queue", "export", "judge", "eval"]   # default: all four
    keep_fields = ["first_name", "surname", "dob"]   # pair fields the task needs as they are
    phone_regions = ["US", "GB"]   # national phone formats looked for (default: Presidio's 8)

`pseudonym` preserves equality within a record, across both sides of a pair: the same value
gets the same placeholder (`<EMAIL_ADDRESS_1>` on both sides when the emails are equal,
`<EMAIL_ADDRESS_1>` and `<EMAIL_ADDRESS_2>` when they differ), so an annotator still sees that
two emails match. `mask` writes `<EMAIL_ADDRESS>`. The mapping (placeholder -> value) stays in
the workspace, in `redaction/mapping.jsonl` (mode 0600): never in Argilla, never in an export.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from curate.core.errors import ConfigError
from curate.core.tasks import Task

# Presidio imports transformers where it is installed (export --check-template needs it), and
# transformers announces on stderr that torch is missing: not curate's output to give
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

DEFAULT_ENTITIES = (
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "CREDIT_CARD",
    "IBAN_CODE",
    "IP_ADDRESS",
    "US_SSN",
    "PERSON",
    "LOCATION",
)
# what a task without [tasks.NAME.redact] gets: the pattern recognizers, which need no model
PATTERN_ENTITIES = tuple(e for e in DEFAULT_ENTITIES if e not in ("PERSON", "LOCATION"))
ACTIONS = ("mask", "pseudonym", "keep")
# Argilla, the training set, the judge model's prompts, the eval suite (export --eval)
PLACES = ("queue", "export", "judge", "eval")
SPACY_MODELS = ("en_core_web_lg", "en_core_web_md", "en_core_web_sm")
MIN_SCORE = 0.4


@dataclass
class Policy:
    entities: tuple[str, ...] = DEFAULT_ENTITIES
    action: str = "pseudonym"
    actions: dict[str, str] = field(default_factory=dict)
    where: tuple[str, ...] = PLACES
    keep_fields: tuple[str, ...] = ()
    phone_regions: tuple[str, ...] | None = None  # None: Presidio's default regions
    # where the entities were listed ("[tasks.NAME.redact] entities"), or "" for the default
    listed_in: str = ""

    @classmethod
    def of(cls, task: Task) -> Policy | None:
        """The task's [tasks.NAME.redact]; without one, the default (pattern entities as
        pseudonyms, in the queue, the export and the judge's prompts); None with
        `redact = false`."""
        spec = task.redact
        if spec is False:
            return None
        if not spec:
            return cls(entities=PATTERN_ENTITIES)
        policy = cls(
            entities=tuple(spec.get("entities", DEFAULT_ENTITIES)),
            action=spec.get("action", "pseudonym"),
            actions=dict(spec.get("actions", {})),
            where=tuple(spec.get("where", PLACES)),
            keep_fields=tuple(spec.get("keep_fields", ())),
            phone_regions=tuple(spec["phone_regions"]) if "phone_regions" in spec else None,
            listed_in=f"[tasks.{task.name}.redact] entities" if "entities" in spec else "",
        )
        if policy.phone_regions is not None:
            import phonenumbers

            unknown = [r for r in policy.phone_regions if r not in phonenumbers.SUPPORTED_REGIONS]
            if unknown or not policy.phone_regions:
                raise ConfigError(
                    f"[tasks.{task.name}.redact] phone_regions: "
                    + (f"{unknown[0]!r} is no region phonenumbers knows" if unknown else "empty")
                    + '; give ISO 3166 country codes, e.g. ["US", "GB", "DE"]'
                )
        for name, action in [("action", policy.action), *policy.actions.items()]:
            if action not in ACTIONS:
                raise ConfigError(
                    f"[tasks.{task.name}.redact] {name} = {action!r}: use one of "
                    f"{', '.join(ACTIONS)}"
                )
        return policy

    def action_for(self, entity: str) -> str:
        return self.actions.get(entity, self.action)


@cache
def _nlp() -> tuple[Any, bool]:
    """A spaCy English model when one is installed (and whether it is one), else a blank
    pipeline that only tokenizes."""
    import spacy

    for name in SPACY_MODELS:
        try:
            return spacy.load(name), True
        except OSError:
            continue
    return spacy.blank("en"), False


@cache
def engine(phone_regions: tuple[str, ...] | None = None) -> tuple[Any, bool]:
    """(Presidio's batch analyzer, whether it has NER): a spaCy English model when one is
    installed, else a blank pipeline (patterns only). Offline: the URL recognizer's suffix
    list is tldextract's shipped one, never a download. `phone_regions`: the countries whose
    national phone formats are looked for (None: Presidio's default list)."""
    import tldextract
    from presidio_analyzer import AnalyzerEngine, BatchAnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import SpacyNlpEngine
    from presidio_analyzer.predefined_recognizers import EmailRecognizer, PhoneRecognizer

    tldextract.tldextract.TLD_EXTRACTOR = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)
    nlp, has_ner = _nlp()

    class Loaded(SpacyNlpEngine):
        def __init__(self) -> None:
            super().__init__(models=[{"lang_code": "en", "model_name": "loaded"}])
            self.nlp = {"en": nlp}

        def load(self) -> None:  # already loaded
            pass

    class AnyDomainEmail(EmailRecognizer):
        """Presidio's email recognizer, without its check that the domain's suffix exists:
        logs hold mistyped addresses ("oa14@lee.coom"), and they are personal data too."""

        def validate_result(self, pattern_text: str) -> bool | None:
            return None  # keep the pattern's score

    nlp_engine = Loaded()
    registry = RecognizerRegistry()
    registry.load_predefined_recognizers(nlp_engine=nlp_engine)
    registry.remove_recognizer("EmailRecognizer")
    registry.add_recognizer(AnyDomainEmail())
    if phone_regions is not None:
        registry.remove_recognizer("PhoneRecognizer")
        registry.add_recognizer(PhoneRecognizer(supported_regions=list(phone_regions)))
    analyzer = AnalyzerEngine(
        nlp_engine=nlp_engine,
        registry=registry,
        supported_languages=["en"],
        context_aware_enhancer=_context_enhancer(),
    )
    return BatchAnalyzerEngine(analyzer_engine=analyzer), has_ner


def _context_enhancer() -> Any:
    from presidio_analyzer.context_aware_enhancers import LemmaContextAwareEnhancer

    class Enhancer(LemmaContextAwareEnhancer):
        """Presidio's context enhancer, which with no tokens and no context given can only copy
        the results (a deep copy of each, a third of the time of a text's analysis): then it
        gives them back as they are."""

        def enhance_using_context(
            self, text, raw_results, nlp_artifacts, recognizers, context=None
        ):
            if not nlp_artifacts.tokens and not context:
                return raw_results
            return super().enhance_using_context(
                text, raw_results, nlp_artifacts, recognizers, context
            )

    return Enhancer()


POOL_TEXTS = 4_000  # distinct texts from which patterns-only analysis runs on every core


def analyze(texts: list[str], entities: list[str], phone_regions=None) -> Iterator[list[Any]]:
    """Presidio's findings in each text, in order. Without a spaCy model (patterns only), no
    pipeline is run: the blank one gives tokens without lemmas, which no pattern needs and
    which never match a context word, so the findings are the same without them (tests/units/
    test_redact.py compares), at twice the speed; from POOL_TEXTS texts on, on every core
    (processes of their own: the matchers are Python, one core each). With a model, Presidio's
    batch analyzer runs it over the texts (NER, and context words by their lemmas)."""
    batch, has_ner = engine(phone_regions)
    if has_ner:
        yield from batch.analyze_iterator(
            texts, language="en", entities=entities, batch_size=256, n_process=1
        )
        return
    workers = min(os.cpu_count() or 1, 8)
    if workers > 1 and len(texts) >= POOL_TEXTS:
        yield from _in_pool(texts, entities, phone_regions, workers)
        return
    yield from _patterns(texts, entities, phone_regions)


def _patterns(texts: list[str], entities: list[str], phone_regions=None) -> list[list[Any]]:
    """The pattern recognizers' findings in each text, without an NLP pipeline."""
    from presidio_analyzer.nlp_engine import NlpArtifacts

    analyzer = engine(phone_regions)[0].analyzer_engine
    none = NlpArtifacts([], [], [], [], analyzer.nlp_engine, "en")  # type: ignore[arg-type]
    return [
        analyzer.analyze(text=text, language="en", entities=entities, nlp_artifacts=none)
        for text in texts
    ]


def _warm(phone_regions) -> None:
    """A worker's engine, built before its first slice."""
    engine(phone_regions)


def _in_pool(texts, entities, phone_regions, workers: int) -> Iterator[list[Any]]:
    """_patterns over slices of the texts in `workers` processes (spawned: polars' threads do
    not survive a fork), results in order."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    size = max(200, len(texts) // (workers * 8))
    slices = [texts[i : i + size] for i in range(0, len(texts), size)]
    try:
        with ProcessPoolExecutor(
            workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_warm,
            initargs=(phone_regions,),
        ) as pool:
            found = list(
                pool.map(_patterns, slices, [entities] * len(slices), [phone_regions] * len(slices))
            )
    except (OSError, BrokenProcessPool):  # no processes to be had here: one core it is
        found = [_patterns(texts, entities, phone_regions)]
    for one in found:
        yield from one


@cache
def _anonymizer():
    from presidio_anonymizer import AnonymizerEngine

    return AnonymizerEngine()


@dataclass
class Found:
    """What was found in a batch of texts: counts by entity type, and each record's mapping."""

    counts: Counter = field(default_factory=Counter)
    mappings: dict[str, dict[str, str]] = field(default_factory=dict)


NER_ENTITIES = ("PERSON", "LOCATION")  # found by a spaCy model, not by a pattern


def detectable_entities(policy: Policy, batch: Any, has_ner: bool) -> list[str]:
    """The policy's entity types that can be found here: all of them, but PERSON and LOCATION
    without a spaCy model. A listed type Presidio does not know, or a listed name type without
    the model, is a ConfigError naming it (the default list just leaves names out)."""
    where = policy.listed_in or "the redaction policy"
    known = set(batch.analyzer_engine.get_supported_entities("en"))
    unknown = [e for e in policy.entities if e not in known]
    if unknown:
        from curate.core.plugins import did_you_mean

        hint = did_you_mean(unknown[0], sorted(known))
        raise ConfigError(
            f"{where}: {', '.join(map(repr, unknown))} is no entity type Presidio finds; "
            f"{hint}known: {', '.join(sorted(known))}"
        )
    unavailable = [e for e in policy.entities if e in NER_ENTITIES and not has_ner]
    if unavailable and policy.listed_in:
        raise ConfigError(
            f"{where} lists {', '.join(unavailable)}, which only a spaCy English model finds "
            f"({' / '.join(SPACY_MODELS)}), and none is installed: install one (python -m spacy "
            "download en_core_web_sm, where the network allows), or take "
            f"{', '.join(unavailable)} out of entities"
        )
    return [e for e in policy.entities if e not in unavailable]


def redact_records(
    records: list[dict[str, list[str]]], policy: Policy, kept: list[set[str]] | None = None
) -> tuple[list[dict[str, list[str]]], Found]:
    """Each record is {"id": [record_id], field: [texts ...]}: the same texts redacted by the
    policy (Presidio's anonymizer, with an operator per entity type), and what was found.
    Placeholders are numbered per record, so equal values within one record (in any of its
    fields) share one."""
    from presidio_anonymizer.entities import OperatorConfig

    batch, has_ner = engine(policy.phone_regions)
    entities = detectable_entities(policy, batch, has_ner)
    if not entities:  # an empty list would make Presidio look for every entity type
        return [{k: list(v) for k, v in record.items()} for record in records], Found()
    flat: list[tuple[int, str, int, str]] = []
    for i, record in enumerate(records):
        for name, texts in record.items():
            if name == "id":
                continue
            for j, text in enumerate(texts):
                if text:
                    flat.append((i, name, j, text))
    # each distinct text analysed once: most calls share their system prompt
    distinct = list(dict.fromkeys(t for *_, t in flat))
    analysed = analyze(distinct, entities, policy.phone_regions)
    hits_of = dict(zip(distinct, analysed, strict=True))
    results = [hits_of[t] for *_, t in flat]
    anonymizer = _anonymizer()
    out = [{k: list(v) for k, v in record.items()} for record in records]
    found = Found()
    numbering: list[dict[tuple[str, str], str]] = [{} for _ in records]

    def operator(i: int, entity: str) -> OperatorConfig:
        action = policy.action_for(entity)
        if action == "keep":
            return OperatorConfig("keep")
        if action == "mask":
            return OperatorConfig("replace", {"new_value": f"<{entity}>"})

        def pseudonym(value: str) -> str:
            names = numbering[i]
            if (entity, value) not in names:
                n = 1 + sum(1 for e, _ in names if e == entity)
                names[(entity, value)] = f"<{entity}_{n}>"
                found.mappings.setdefault(records[i]["id"][0], {})[names[(entity, value)]] = value
            return names[(entity, value)]

        return OperatorConfig("custom", {"lambda": pseudonym})

    for (i, name, j, text), hits in zip(flat, results, strict=True):
        keep = kept[i] if kept else set()
        hits = [
            h for h in hits if h.score >= MIN_SCORE and text[h.start : h.end].strip() not in keep
        ]
        if not hits:
            continue
        operators = {h.entity_type: operator(i, h.entity_type) for h in hits}
        for h in sorted(hits, key=lambda h: h.start):  # numbered in reading order
            config = operators[h.entity_type]
            if config.operator_name == "custom":
                config.params["lambda"](text[h.start : h.end])
        result = anonymizer.anonymize(text=text, analyzer_results=hits, operators=operators)
        for item in result.items:
            if policy.action_for(item.entity_type) != "keep":
                found.counts[item.entity_type] += 1
        out[i][name][j] = result.text
    return out, found


def kept_values(metadata: str | None, task: Task, policy: Policy) -> set[str]:
    """The values of the pair fields the policy keeps, on both sides of the record's pair."""
    if not policy.keep_fields or not metadata:
        return set()
    try:
        meta = json.loads(metadata)
    except json.JSONDecodeError:
        return set()
    values: set[str] = set()
    for key in ("left", "right"):
        side: Any = meta
        for part in task.pair.get(key, f"metadata.{key}").split(".")[1:]:
            side = side.get(part) if isinstance(side, dict) else None
        if isinstance(side, dict):
            values |= {str(side[f]).strip() for f in policy.keep_fields if side.get(f) is not None}
    return values


def redact_queue_records(
    records: list[dict[str, Any]], rows: list[dict[str, Any]], task: Task, policy: Policy
) -> tuple[list[dict[str, Any]], Found]:
    """Queue records (render_record dicts) with their fields and suggested outputs redacted."""
    texts = [
        {
            "id": [r["id"]],
            "fields": list(r["fields"].values()),
            "suggestions": [
                s["value"] if isinstance(s.get("value"), str) else ""
                for s in r["suggestions"].values()
            ],
        }
        for r in records
    ]
    kept = [kept_values(row.get("metadata"), task, policy) for row in rows]
    done, found = redact_records(texts, policy, kept)
    out = []
    for record, red in zip(records, done, strict=True):
        fields = dict(zip(record["fields"], red["fields"], strict=True))
        suggestions = {
            q: (s | {"value": v}) if isinstance(s.get("value"), str) else s
            for (q, s), v in zip(record["suggestions"].items(), red["suggestions"], strict=True)
        }
        out.append(record | {"fields": fields, "suggestions": suggestions})
    return out, found


def save_mapping(workspace, found: Found) -> Path | None:
    """Add the placeholders' values to the workspace's mapping file (mode 0600)."""
    if not found.mappings:
        return None
    folder = workspace.root / "redaction"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "mapping.jsonl"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a") as fh:
        for record_id, mapping in found.mappings.items():
            fh.write(json.dumps({"record_id": record_id, "values": mapping}) + "\n")
    os.chmod(path, 0o600)
    return path


__all__ = [
    "Policy",
    "engine",
    "kept_values",
    "redact_queue_records",
    "redact_records",
    "save_mapping",
]
