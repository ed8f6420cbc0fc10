"""Benchmark: redaction of N records' texts against Presidio's analyzer alone, one text at a
time.

    python bench/redact.py [--records 100000] [--phone-regions US,GB]

Each record is a pair-matching prompt and its answer (about 400 characters, one or two emails,
a phone number in 1 of 5, a card number in 1 of 10), redacted by curate.core.redact.redact_records
(each distinct text analysed once, without an NLP pipeline when no spaCy model is installed,
on every core from 4,000 texts; Presidio's anonymizer; pseudonyms per record). The baselines
run the same analyzer with AnalyzerEngine.analyze per text, detection only, in this process, on
a sample: with its NLP pipeline, and without it (the faster is the baseline). Prints records/s
for each, whether NER ran, peak RSS, and the ratio. Target (issue #29, 2 cores): 5,000
records/s, patterns only.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import time

from curate.core.redact import Policy, engine, redact_records

FIRST = ["Robert", "Mary", "Oscar", "Amelia", "John", "Zoë", "Li", "Fatima"]
LAST = ["Allen", "Ahmed", "Smith", "O'Brien", "Nguyen", "Garcia", "Kowalski"]


def _records(n: int, seed: int = 7) -> list[dict[str, list[str]]]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        a, b = rng.choice(FIRST), rng.choice(LAST)
        email = f"{a.lower()}.{b.lower()}{rng.randrange(100)}@example.org"
        other = email if rng.random() < 0.5 else f"{a[0].lower()}{b.lower()}@mail.com"
        phone = f" Call +1 415 555 {rng.randrange(1000, 9999)}." if i % 5 == 0 else ""
        card = " Paid with 4111 1111 1111 1111." if i % 10 == 0 else ""
        prompt = (
            f"Record A: name {a} {b}, born 19{rng.randrange(40, 99)}-0{rng.randrange(1, 9)}-1"
            f"{rng.randrange(0, 9)}, email {email}.{phone}\nRecord B: name {b} {a}, email "
            f"{other}.{card} Do these refer to the same person? Answer in JSON."
        )
        answer = f'{{"decision": "{rng.choice(["match", "non_match"])}", "email": "{email}"}}'
        out.append({"id": [f"r{i}"], "prompt": [prompt], "answer": [answer]})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--baseline-records", type=int, default=5_000)
    parser.add_argument(
        "--phone-regions",
        default="",
        help="e.g. US,GB ([redact] phone_regions; default: Presidio's)",
    )
    args = parser.parse_args()
    records = _records(args.records)
    regions = tuple(args.phone_regions.split(",")) if args.phone_regions else None
    policy = Policy(
        entities=("EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE"),
        phone_regions=regions,
    )
    batch, has_ner = engine(regions)  # built once, outside the timers
    redact_records(records[:10], policy)  # warm
    start = time.perf_counter()
    _, found = redact_records(records, policy)
    curate = time.perf_counter() - start
    curate_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    worker_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    analyzer = batch.analyzer_engine
    sample = [t for r in records[: args.baseline_records] for t in (r["prompt"][0], r["answer"][0])]
    start = time.perf_counter()
    for text in sample:
        analyzer.analyze(text=text, language="en", entities=list(policy.entities))
    baseline = time.perf_counter() - start
    # the fastest way we know with Presidio alone: no NLP pipeline (patterns need none), one
    # process; findings checked equal to the pipeline's by tests/units/test_redact.py
    from presidio_analyzer.nlp_engine import NlpArtifacts

    none = NlpArtifacts([], [], [], [], analyzer.nlp_engine, "en")
    start = time.perf_counter()
    for text in sample:
        analyzer.analyze(
            text=text, language="en", entities=list(policy.entities), nlp_artifacts=none
        )
    no_pipeline = time.perf_counter() - start
    per_record_baseline = min(baseline, no_pipeline) / args.baseline_records
    print(f"{os.cpu_count()} cores; detection: {'patterns + NER' if has_ner else 'patterns only'}")
    print(f"phone regions: {', '.join(regions) if regions else 'Presidio default'}")
    print(f"records: {args.records:,}, replaced: {dict(found.counts)}")
    print(
        f"  curate (batched, anonymized): {curate:7.2f} s  {args.records / curate:9,.0f} records/s"
    )
    for name, seconds in (("with its NLP pipeline", baseline), ("without it", no_pipeline)):
        print(
            f"  Presidio's analyze per text {name} (detection only, one process, "
            f"{args.baseline_records:,} records): {args.baseline_records / seconds:9,.0f} records/s"
        )
    fastest = "without" if no_pipeline < baseline else "with"
    print(f"baseline: Presidio {fastest} its pipeline, the faster")
    print(f"curate / baseline = {curate / (per_record_baseline * args.records):.2f}x time")
    print(
        f"peak RSS: curate's process {curate_rss:,.0f} MB (the records and texts included), "
        f"largest worker process {worker_rss:,.0f} MB; the baseline's process "
        f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB (the same one)"
    )


if __name__ == "__main__":
    main()
