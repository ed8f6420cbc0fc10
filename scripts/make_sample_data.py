"""Write the bundled sample logs (seeded: the same bytes every run).

    python scripts/make_sample_data.py sample_data

1. entity_match_chat.jsonl.gz: a prompted entity-resolution model ("do these two person
   records refer to the same person?") logged in OpenAI chat-completions format, with its known
   answers in entity_match_references.csv (for most calls, keyed by completion id).
2. ticket_batch_input.jsonl / ticket_batch_output.jsonl: a support-ticket classifier run through
   the OpenAI Batch API, known answers in ticket_references.csv (keyed by custom_id).

The people, names and tickets are invented here. Failures are planted at realistic rates:
invalid JSON, labels outside the vocabulary, truncation, refusals, API errors, wrong answers on
the hard pairs (nicknames, swapped names, partial or transposed dates), thumbs-down feedback,
and a few lines a logger broke.
"""

from __future__ import annotations

import csv
import gzip
import json
import random
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

SEED = 20261128
N_PAIRS = 3000
N_TICKETS = 600

FIRST = [
    "Robert",
    "William",
    "Elizabeth",
    "Katherine",
    "Margaret",
    "James",
    "Jennifer",
    "Michael",
    "Thomas",
    "Richard",
    "Charles",
    "Joseph",
    "Daniel",
    "Matthew",
    "Anthony",
    "Christopher",
    "Patricia",
    "Susan",
    "Jessica",
    "Sarah",
    "Rebecca",
    "Alexander",
    "Nicholas",
    "Samuel",
    "Benjamin",
    "Edward",
    "Victoria",
    "Josephine",
    "Theodore",
    "Frederick",
    "Dorothy",
    "Abigail",
    "Amelia",
    "Oliver",
    "Harriet",
    "Isabella",
    "Jonathan",
    "Zoe",
    "Mohammed",
    "Aisha",
    "Chloe",
    "Ethan",
    "Grace",
    "Hannah",
    "Isaac",
    "Leo",
    "Lucy",
    "Noah",
    "Ruby",
    "Sophie",
]
NICK = {
    "Robert": ["Bob", "Rob", "Bobby"],
    "William": ["Bill", "Will", "Liam"],
    "Elizabeth": ["Liz", "Beth", "Eliza"],
    "Katherine": ["Kate", "Kathy", "Katie"],
    "Margaret": ["Maggie", "Peggy", "Meg"],
    "James": ["Jim", "Jimmy"],
    "Jennifer": ["Jen", "Jenny"],
    "Michael": ["Mike", "Mick"],
    "Thomas": ["Tom", "Tommy"],
    "Richard": ["Dick", "Rick", "Rich"],
    "Charles": ["Charlie", "Chuck"],
    "Joseph": ["Joe", "Joey"],
    "Daniel": ["Dan", "Danny"],
    "Matthew": ["Matt"],
    "Anthony": ["Tony"],
    "Christopher": ["Chris", "Kit"],
    "Patricia": ["Pat", "Patty", "Tricia"],
    "Susan": ["Sue", "Susie"],
    "Jessica": ["Jess"],
    "Rebecca": ["Becky", "Becca"],
    "Alexander": ["Alex", "Sandy"],
    "Nicholas": ["Nick"],
    "Samuel": ["Sam"],
    "Benjamin": ["Ben"],
    "Edward": ["Ed", "Ted", "Ned"],
    "Victoria": ["Vicky", "Tori"],
    "Josephine": ["Jo", "Josie"],
    "Theodore": ["Theo", "Ted"],
    "Frederick": ["Fred", "Freddie"],
    "Dorothy": ["Dot", "Dolly"],
    "Abigail": ["Abby"],
    "Jonathan": ["Jon"],
    "Isabella": ["Bella", "Izzy"],
    "Harriet": ["Hattie"],
}
SURNAMES = [
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Miller",
    "Davis",
    "Wilson",
    "Anderson",
    "Taylor",
    "Thomas",
    "Moore",
    "Martin",
    "Jackson",
    "Thompson",
    "White",
    "Harris",
    "Clarke",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Green",
    "Baker",
    "Adams",
    "Nelson",
    "Hill",
    "Campbell",
    "Mitchell",
    "Roberts",
    "Carter",
    "Phillips",
    "Evans",
    "Turner",
    "Torres",
    "Parker",
    "Collins",
    "Edwards",
    "Stewart",
    "Morris",
    "Murphy",
    "Cook",
    "Rogers",
    "Morgan",
    "Peterson",
    "Cooper",
    "Reed",
    "Bailey",
    "Bell",
    "Gomez",
    "Kelly",
    "Howard",
    "Ward",
    "Cox",
    "Diaz",
    "Richardson",
    "Wood",
    "Watson",
    "Brooks",
    "Bennett",
    "Gray",
    "O'Brien",
    "McDonald",
    "Müller",
    "Schröder",
    "Nguyen",
    "Okafor",
    "Kowalski",
    "Fernández",
]
CITIES = [
    "London",
    "Leeds",
    "Bristol",
    "Manchester",
    "Glasgow",
    "Cardiff",
    "Belfast",
    "York",
    "Norwich",
    "Exeter",
    "Brighton",
    "Oxford",
    "Cambridge",
    "Liverpool",
    "Sheffield",
    "Hull",
]

SYSTEM_V1 = (
    "You are an expert data steward working for a national records office. Your task is entity "
    "resolution: you are shown two person records that were captured by different systems "
    "(registration forms, call-centre notes, scanned paper forms and partner data feeds) and "
    "you decide whether they describe the same real person. Records contain typographical "
    "errors, nicknames and diminutives, initials instead of full names, first and last names "
    "swapped, transliterations, missing fields, partial dates of birth (year only, or year and "
    "month), day and month swapped, and digit transpositions. Weigh the evidence field by "
    "field: identical rare surnames are strong evidence; a common first name alone is weak; a "
    "matching full date of birth is strong unless it is a placeholder such as 1900-01-01; "
    "differing cities are weak evidence against, because people move; emails are strong when "
    "they match exactly and weak when they differ. Do not assume a match because the records "
    "look similar at a glance. Answer with a single JSON object and nothing else, of the form "
    '{"decision": "match" | "non_match", "confidence": <number between 0 and 1>, "reason": '
    '"<one short sentence>"}. Never add commentary outside the JSON object.'
)
SYSTEM_V2 = SYSTEM_V1 + (
    " Examples: 'Bob Smith, 1980-02-03' and 'Robert Smith, 1980-03-02' are a match (nickname, "
    "day and month swapped). 'Anna Berg, 1975' and 'Anna Berg, 1957-06-01' are a non_match "
    "unless other fields agree."
)
TICKET_SYSTEM = (
    "Classify the customer support ticket into exactly one topic: billing, technical, account, "
    "shipping or other. Reply with the topic word only."
)
TICKET_LABELS = ["billing", "technical", "account", "shipping", "other"]
TICKETS = {
    "billing": [
        "I was charged twice for my subscription this month",
        "Why is there an extra fee on invoice {n}?",
        "Please refund the payment I made by mistake on {d}",
        "My card was declined but the money left my account",
    ],
    "technical": [
        "The app crashes when I open the settings page",
        "Error {n} appears every time I try to upload a photo",
        "Sync has been stuck at 99% since {d}",
        "The website will not load on my phone",
    ],
    "account": [
        "I cannot reset my password, the email never arrives",
        "Please change the email address on my account to the new one",
        "How do I delete my account and all my data?",
        "My account was locked after {n} login attempts",
    ],
    "shipping": [
        "My parcel {n} has not arrived after two weeks",
        "The tracking page says delivered but I have nothing",
        "Can I change the delivery address for order {n}?",
        "The box arrived damaged on {d}",
    ],
    "other": [
        "Do you have a physical shop in {c}?",
        "I would like to give feedback about your staff",
        "Are you hiring in {c}?",
        "Thank you for the quick help last week",
    ],
}


def person(rng: random.Random) -> dict:
    first = rng.choice(FIRST)
    surname = rng.choice(SURNAMES)
    born = date(1940, 1, 1) + timedelta(days=rng.randrange(0, 365 * 60))
    return {
        "first_name": first,
        "surname": surname,
        "dob": born.isoformat(),
        "city": rng.choice(CITIES),
        "email": f"{first.lower()}.{surname.lower().replace(chr(39), '')}"
        f"{rng.randrange(1, 99)}@example.org",
    }


def typo(rng: random.Random, word: str) -> str:
    if len(word) < 4:
        return word
    i = rng.randrange(1, len(word) - 1)
    kind = rng.choice(["swap", "drop", "double", "replace"])
    if kind == "swap":
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if kind == "drop":
        return word[:i] + word[i + 1 :]
    if kind == "double":
        return word[:i] + word[i] + word[i:]
    return word[:i] + rng.choice("aeiourstnl") + word[i + 1 :]


def variant(rng: random.Random, p: dict) -> tuple[dict, list[str]]:
    """The same person as another system captured them, and the hard cases planted."""
    q = dict(p)
    hard = []
    for _ in range(rng.choice([0, 1, 1, 2])):
        kind = rng.choice(
            [
                "nickname",
                "typo",
                "swap",
                "initial",
                "partial_date",
                "dm_swap",
                "transpose",
                "missing",
                "city",
                "email",
            ]
        )
        if kind == "nickname" and p["first_name"] in NICK:
            q["first_name"] = rng.choice(NICK[p["first_name"]])
        elif kind == "typo":
            field = rng.choice(["first_name", "surname"])
            q[field] = typo(rng, q[field])
        elif kind == "swap":
            q["first_name"], q["surname"] = q["surname"], q["first_name"]
        elif kind == "initial":
            q["first_name"] = q["first_name"][0] + "."
        elif kind == "partial_date" and q["dob"]:
            q["dob"] = q["dob"][: rng.choice([4, 7])]
        elif kind == "dm_swap" and q["dob"] and len(q["dob"]) == 10 and int(q["dob"][8:]) <= 12:
            q["dob"] = f"{q['dob'][:4]}-{q['dob'][8:]}-{q['dob'][5:7]}"
        elif kind == "transpose" and q["dob"] and len(q["dob"]) == 10:
            y = q["dob"][:4]
            q["dob"] = y[:2] + y[3] + y[2] + q["dob"][4:]
        elif kind == "missing":
            q[rng.choice(["dob", "city", "email"])] = None
        elif kind == "city":
            q["city"] = rng.choice(CITIES)
        elif kind == "email":
            q["email"] = (
                None if rng.random() < 0.5 or q["email"] is None else q["email"].replace("@", "_1@")
            )
        else:
            continue
        hard.append(kind)
    return q, hard


def lookalike(rng: random.Random, p: dict) -> dict:
    """A different person who shares something with p (the hard non-matches)."""
    q = person(rng)
    shared = rng.choice(["surname", "first_name", "dob", "both_names"])
    if shared == "both_names":
        q["first_name"], q["surname"] = p["first_name"], p["surname"]
    else:
        q[shared] = p[shared]
    return q


def render(record: dict) -> str:
    return "; ".join(f"{k}: {v if v is not None else '(missing)'}" for k, v in record.items())


def entity_lines(rng: random.Random) -> tuple[list[str], list[tuple[str, str]]]:
    lines: list[str] = []
    references: list[tuple[str, str]] = []
    start = datetime(2026, 9, 1, tzinfo=UTC)
    for i in range(N_PAIRS):
        a = person(rng)
        is_match = rng.random() < 0.45
        if is_match:
            b, hard = variant(rng, a)
        else:
            b, hard = lookalike(rng, a), ["lookalike"]
        if rng.random() < 0.5:
            a, b = b, a
        truth = "match" if is_match else "non_match"
        when = start + timedelta(minutes=i * 29 + rng.randrange(0, 20))
        version = "v1" if i < N_PAIRS * 0.6 else "v2"
        system = SYSTEM_V1 if version == "v1" else SYSTEM_V2
        completion_id = f"chatcmpl-{rng.getrandbits(96):024x}"
        user = f"Record A: {render(a)}\nRecord B: {render(b)}\nDo A and B refer to the same person?"
        # the model errs more on hard cases, and less after the v2 prompt
        error_rate = 0.05 + 0.12 * len([h for h in hard if h != "lookalike"])
        error_rate += 0.18 if "lookalike" in hard and b["first_name"] == a["first_name"] else 0.0
        error_rate *= 0.8 if version == "v2" else 1.0
        said = truth if rng.random() >= error_rate else ("non_match" if is_match else "match")
        conf = round(rng.uniform(0.55, 0.99), 2)
        content = json.dumps(
            {
                "decision": said,
                "confidence": conf,
                "reason": "compared name, date of birth and city",
            }
        )
        finish = "stop"
        refusal = None
        completion_tokens = 28
        roll = rng.random()
        if roll < 0.04:  # invalid JSON: fences, trailing prose, single quotes
            content = rng.choice(
                [
                    f"```json\n{content}\n```",
                    content + "\nLet me know if you need more detail.",
                    content.replace('"', "'"),
                    content[:-1] + ",}",
                ]
            )
        elif roll < 0.07:  # label outside the vocabulary
            content = json.dumps(
                {
                    "decision": rng.choice(
                        ["possible_match", "unsure", "likely same", "needs_review"]
                    ),
                    "confidence": 0.5,
                }
            )
        elif roll < 0.095:  # truncated at max_tokens
            content = content[: rng.randrange(8, len(content) - 5)]
            finish = "length"
            completion_tokens = 16
        elif roll < 0.11:  # refusal
            if rng.random() < 0.5:
                content, refusal = None, "I'm sorry, but I can't help with identifying individuals."
            else:
                content = "I can't assist with comparing personal records of private individuals."
        elif roll < 0.13:  # synonyms a tolerant parser should accept
            content = json.dumps(
                {"decision": {"match": "yes", "non_match": "no"}[said], "confidence": conf}
            )
        message = {"role": "assistant", "content": content}
        if refusal:
            message["refusal"] = refusal
        line = {
            "timestamp": when.isoformat().replace("+00:00", "Z"),
            "latency_ms": round(380 + 0.9 * len(system) / 4 + rng.gauss(120, 40), 1),
            "request": {
                "model": "gpt-4o-mini-2024-07-18",
                "temperature": 0,
                "max_tokens": 64,
                "messages": [
                    {"role": "system", "content": system},
                    {"role": "user", "content": user},
                ],
                "response_format": {"type": "json_object"},
            },
            "metadata": {
                "pair_id": f"pair-{i:05d}",
                "prompt": f"entity_match@{version}",
                "left": a,
                "right": b,
            },
            "prompt_version": f"entity_match@{version}",
        }
        if rng.random() < 0.03:  # API errors: no response, an error object
            line["status_code"] = rng.choice([429, 500, 503])
            line["error"] = {
                "message": {
                    429: "Rate limit reached",
                    500: "The server had an error",
                    503: "The engine is overloaded",
                }[line["status_code"]],
                "type": "server_error" if line["status_code"] != 429 else "rate_limit_error",
            }
        else:
            line["response"] = {
                "id": completion_id,
                "object": "chat.completion",
                "created": int(when.timestamp()),
                "model": "gpt-4o-mini-2024-07-18",
                "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                "usage": {
                    "prompt_tokens": len(system) // 4 + len(user) // 4,
                    "completion_tokens": completion_tokens,
                },
            }
            if rng.random() < 0.3:
                references.append((completion_id, truth))
            if said != truth and rng.random() < 0.35:
                line["feedback"] = {
                    "score": 0,
                    "comment": rng.choice(
                        ["wrong: same person", "wrong", "these are different people", "bad match"]
                    ),
                }
            elif rng.random() < 0.05:
                line["feedback"] = {"score": 1}
        lines.append(json.dumps(line, ensure_ascii=False))
    # a logger that broke a few lines: cut mid-write, a stray debug print, an empty object
    for position, broken in (
        (137, lines[137][:300]),
        (1401, "DEBUG flush queue size=12"),
        (2222, "{}"),
    ):
        lines.insert(position, broken)
    return lines, references


def ticket_files(rng: random.Random) -> tuple[list[str], list[str], list[tuple[str, str]]]:
    inputs, outputs, references = [], [], []
    for i in range(N_TICKETS):
        truth = rng.choice(TICKET_LABELS)
        text = rng.choice(TICKETS[truth]).format(
            n=rng.randrange(1000, 99999),
            d=f"2026-10-{rng.randrange(1, 29):02d}",
            c=rng.choice(CITIES),
        )
        custom_id = f"ticket-{i:05d}"
        body = {
            "model": "gpt-4.1-nano",
            "max_tokens": 5,
            "messages": [
                {"role": "system", "content": TICKET_SYSTEM},
                {"role": "user", "content": text},
            ],
        }
        inputs.append(
            json.dumps(
                {
                    "custom_id": custom_id,
                    "method": "POST",
                    "url": "/v1/chat/completions",
                    "body": body,
                }
            )
        )
        said = truth if rng.random() > 0.1 else rng.choice(TICKET_LABELS)
        content, finish = said, "stop"
        roll = rng.random()
        if roll < 0.05:
            content = rng.choice(["refund", "login", "delivery", "complaint"])
        elif roll < 0.08:
            content, finish = f"The topic of this ticket is {said}"[:18], "length"
        elif roll < 0.10:
            content = f"Topic: {said.title()}."
        if rng.random() < 0.025:
            outputs.append(
                json.dumps(
                    {
                        "id": f"batch_req_{rng.getrandbits(64):016x}",
                        "custom_id": custom_id,
                        "response": {
                            "status_code": 500,
                            "request_id": f"req_{i}",
                            "body": {
                                "error": {
                                    "message": "The server had an error while processing "
                                    "your request.",
                                    "type": "server_error",
                                }
                            },
                        },
                        "error": None,
                    }
                )
            )
        else:
            completion = {
                "id": f"chatcmpl-{rng.getrandbits(96):024x}",
                "object": "chat.completion",
                "created": 1790000000 + i * 7,
                "model": "gpt-4.1-nano-2025-04-14",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": finish,
                    }
                ],
                "usage": {
                    "prompt_tokens": 48 + len(text) // 4,
                    "completion_tokens": 2 if finish == "stop" else 5,
                },
            }
            outputs.append(
                json.dumps(
                    {
                        "id": f"batch_req_{rng.getrandbits(64):016x}",
                        "custom_id": custom_id,
                        "response": {
                            "status_code": 200,
                            "request_id": f"req_{i}",
                            "body": completion,
                        },
                        "error": None,
                    }
                )
            )
        if rng.random() < 0.8:
            references.append((custom_id, truth))
    rng.shuffle(outputs)  # the Batch API returns outputs in any order
    return inputs, outputs, references


CURATE_TOML = """\
# The two tasks of the sample logs. Reference: schemas/config.schema.json.

[tasks.entity_match]
kind = "pair_match"
description = "Do two person records refer to the same person?"
labels = ["match", "non_match"]
output_schema = "entity_match_output.schema.json"

[tasks.entity_match.synonyms]
match = ["yes", "same", "true", "1"]
non_match = ["no", "different", "false", "0"]

[tasks.entity_match.parse]
mode = "json"
field = "decision"

[tasks.entity_match.pair]
left = "metadata.left"
right = "metadata.right"
names = ["first_name", "surname"]
dates = ["dob"]
other = ["city", "email"]

[tasks.ticket_topic]
kind = "classification"
description = "The topic of a customer support ticket."
labels = ["billing", "technical", "account", "shipping", "other"]

[tasks.ticket_topic.parse]
mode = "prefix"

[detectors.refusal]
patterns = ["i can't assist", "i cannot help", "i can't help"]

# What `curate run` ingests (paths relative to this file).
[[sources]]
path = "entity_match_chat.jsonl.gz"
task = "entity_match"
references = "entity_match_references.csv"

[[sources]]
path = "ticket_batch_*.jsonl"
task = "ticket_topic"
references = "ticket_references.csv"

[run]
target = 400
seed = 7
"""

OUTPUT_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "entity_match output",
    "type": "object",
    "required": ["decision"],
    "properties": {
        "decision": {"enum": ["match", "non_match"]},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        "reason": {"type": "string"},
    },
}


def write_gzip(path: Path, text: str) -> None:
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as fh:
        fh.write(text.encode())


def write_csv(path: Path, rows: list[tuple[str, str]]) -> None:
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["id", "reference"])
        writer.writerows(rows)


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(SEED)
    lines, references = entity_lines(rng)
    write_gzip(out / "entity_match_chat.jsonl.gz", "\n".join(lines) + "\n")
    write_csv(out / "entity_match_references.csv", references)
    inputs, outputs, ticket_refs = ticket_files(rng)
    (out / "ticket_batch_input.jsonl").write_text("\n".join(inputs) + "\n")
    (out / "ticket_batch_output.jsonl").write_text("\n".join(outputs) + "\n")
    write_csv(out / "ticket_references.csv", ticket_refs)
    (out / "curate.toml").write_text(CURATE_TOML)
    (out / "entity_match_output.schema.json").write_text(json.dumps(OUTPUT_SCHEMA, indent=2) + "\n")
    print(f"wrote {len(lines)} entity-match lines, {len(outputs)} ticket outputs to {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "sample_data"))
