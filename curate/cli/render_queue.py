"""How the labelling commands print for people: queue push, pull, status and review (`--json`
prints the data these take). Split from render.py, which holds the other commands'."""

from __future__ import annotations

from typing import Any


def push(out, results) -> None:
    for r in results:
        out.print(
            f"{r.dataset}: {r.pushed} records pushed"
            + (f", {r.kept_answered} already answered left as they are" if r.kept_answered else "")
            + (" (new dataset)" if r.created else "")
        )
        if r.answered_by_reference:
            out.print(f"  {r.answered_by_reference} answered by their reference, not pushed")
        if r.gold:
            out.print(
                f"  {r.gold} answered by their reference pushed as gold, to measure annotators"
            )
        if r.redacted:
            replaced = ", ".join(f"{kind} {n}" for kind, n in sorted(r.redacted.items()))
            out.print(f"  personal data replaced before Argilla saw it: {replaced}")
        if r.contradicting_references:
            out.print(
                f"  [yellow]warning:[/] {r.contradicting_references} candidates have an input "
                "whose references disagree (one input, two answers): pushed for people to decide"
            )
    if results:
        out.print(f"label them at {results[0].url}; then: curate queue pull")


def pull(out, result) -> None:
    out.print(
        f"{result.new_responses} new responses; {result.responses} in all on "
        f"{result.records_answered} records; {result.resolved} answers resolved by {result.policy}"
    )
    for question, a in result.agreement.items():
        if a["records"]:
            headline = "Cohen's kappa" if a["kappa_kind"] == "cohen" else "Krippendorff's alpha"
            out.print(
                f"  {question}: {a['percent_agreement']:.0%} agreement on {a['records']} records "
                f"answered by 2+ of {a['annotators']} annotators; {headline} {a['kappa']}"
            )
            for pair in a["pairs"] if len(a["pairs"]) > 1 else []:
                first, second = pair["annotators"]
                out.print(
                    f"    {first} & {second}: {pair['records']} records, "
                    f"{pair['percent_agreement']:.0%} agree, Cohen's kappa {pair['kappa']}"
                )
    for task, quality in result.annotators.items():
        people = quality["annotators"]
        if len(people) < 2:
            continue
        out.print(f"  {task}: annotators on {quality['question']}")
        for who, q in sorted(people.items(), key=lambda kv: -kv[1]["vote_weight"]):
            agree = "—" if q["agreement"] is None else f"{q['agreement']:.0%}"
            gold = (
                ""
                if q["gold_accuracy"] is None
                else f", {q['gold_accuracy']:.0%} of {q['gold']} gold"
            )
            pace = q.get("seconds_per_record")
            pace = "" if pace is None else f", about {pace:g} s a record"
            out.print(
                f"    {who}: {q['answers']} answers{pace}, {agree} with the others on "
                f"{q['with_others']} (kappa {q['kappa']}){gold}; vote weight {q['vote_weight']}"
            )
    for task, audit in result.reference_audit.items():
        if audit.get("records"):
            out.print(
                f"  {task}: people agree with the references on {audit['agreement']:.0%} of "
                f"{audit['records']} audited records; Cohen's kappa {audit['kappa']}"
            )
    for task, judged in result.judge.items():
        threshold = (
            f"it could label the rest above score {judged['threshold']}"
            if judged["threshold"] is not None
            else "no score threshold makes it right 95% of the time"
        )
        out.print(
            f"  {task}: the judge {judged['model']} agrees with people on "
            f"{judged['accuracy']:.0%} of {judged['records']} records (kappa {judged['kappa']}); "
            f"{threshold}"
        )
    for task, sent in result.adjudication.items():
        out.print(
            f"  {task}: {sent['sent']} records in conflict sent to {sent['dataset']} "
            "for adjudication (an answer there decides at the next pull)"
        )
    for conflict in result.conflicts[:20]:
        what = f"{conflict['record_id']} {conflict['question']}: {conflict['answers']}"
        out.print(f"  [yellow]conflict[/] {what}")


def review(out, data: dict[str, Any]) -> None:
    from rich.markup import escape

    out.print(
        f"{data['suspected']} of {data['labels']} resolved labels at suspicion "
        f"{data['min_suspicion']} or more"
    )
    for row in data["records"]:
        if not row["reasons"]:
            continue
        reasons = escape("; ".join(row["reasons"]))
        label = escape(repr(row["label"]))
        out.print(f"  {row['suspicion']:.2f}  {row['record_id']}  {label}: {reasons}")
    for pushed in data["pushed"]:
        out.print(f"pushed {pushed['pushed']} to {pushed['dataset']} for a second look")


def queue_status(out, status: dict[str, Any]) -> None:
    for task, s in status.items():
        if not s["pushed"]:
            out.print(f"{task}: not pushed yet (curate queue push)")
            continue
        out.print(f"{task} ({s['dataset']}): {s['totals']}")
        for who, n in s["by_annotator"].items():
            out.print(f"  {who}: {n}")
        if s.get("adjudication"):
            adj = s["adjudication"]
            out.print(f"  {adj['waiting']} records waiting for adjudication in {adj['dataset']}")
