"""Learner cards: the card layout against the same text written plainly with fpdf2, and cards with new passwords
against the bare hashes, for one facility's learners in DynamoDB (moto in another process).

Run in its own process (`python -m bench.cards LEARNERS`): prints one JSON document with the timings (CPU seconds of
this process, best of a few passes, the passes alternated so both sides see the same machine).
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

from bench.env import use_fake_aws

RENDER_REPEATS = 3
SERVICE_REPEATS = 2


def plain_pdf(cards: list[Any]) -> bytes:
    """The cards' text with the same library, page by page: one font, one line under another, nothing laid out."""
    from intake.cards import CARDS_PER_PAGE, card_lines, new_document

    pdf = new_document()
    pdf.set_font("Helvetica", "", 10)
    for start in range(0, len(cards), CARDS_PER_PAGE):
        pdf.add_page()
        y = 30.0
        for card in cards[start : start + CARDS_PER_PAGE]:
            for text, _, _ in card_lines(card):
                pdf.text(36, y, text)
                y += 8.5
    return bytes(pdf.output())


def cpu_seconds(work: Callable[[], object]) -> float:
    started = time.process_time()
    work()
    return time.process_time() - started


def sample_cards(count: int) -> list[Any]:
    from bench import data
    from intake.cards import Card

    names = data.roster_csv(count, seed=3, error_every=0).decode().splitlines()[1:]
    made = []
    for n, row in enumerate(names):
        _, doc_id, first, last, *_ = row.split(",")
        made.append(
            Card(
                name=f"{first} {last}",
                username=f"{last.lower()[:8]}{first[0].lower()}{doc_id[-4:]}",
                doc_id=doc_id,
                facility_name="Bench Facility",
                housing_unit_name=data.UNITS[n % len(data.UNITS)],
            )
        )
    return made


def rendering(count: int) -> dict[str, float]:
    """Best CPU seconds of the cards' layout and of the plain text PDF, for `count` cards without passwords."""
    from intake import cards

    given = sample_cards(count)
    plain_pdf(given[:8])  # fpdf2 imported and warmed for both
    layout = plain = float("inf")
    size = 0
    for _ in range(RENDER_REPEATS):
        plain = min(plain, cpu_seconds(lambda: plain_pdf(given)))
        started = time.process_time()
        pdf = cards.render(given)
        layout = min(layout, time.process_time() - started)
        size = len(pdf)
    return {"layout_cpu_seconds": layout, "plain_cpu_seconds": plain, "pdf_bytes": size}


def _seed_learners(count: int) -> list[str]:
    from bench import data
    from intake import learner_creation, passwords
    from intake.dal import learners as learner_store

    stored_hash = passwords.hash_password("Bench-seed-pass-1")
    rows = data.roster_csv(count, seed=7, error_every=0, first_doc=5_000_000).decode().splitlines()[1:]
    ids = []
    for n, row in enumerate(rows):
        _, doc_id, first, last, born, _, _, _ = row.split(",")
        unit = data.UNITS[n % len(data.UNITS)]
        learner = learner_creation.new_learner(
            agency_id=data.AGENCY,
            doc_id=doc_id,
            first_name=first,
            last_name=last,
            date_of_birth=born,
            location_id=unit,
            facility_id=data.FACILITY,
            created_by="bench",
        ).model_copy(update={"username": f"bench{n:05d}"})
        learner_store.insert_learner(learner, stored_hash)
        ids.append(learner.learner_id)
    return ids


def service(count: int) -> dict[str, Any]:
    """card_service.learner_cards for `count` learners over moto: without reset against the plain PDF of the same
    cards, and with reset against hashing as many passwords and nothing else."""
    from bench import data
    from bench.dynamo import READS, WRITES, CountingClient, _reset_caches, _seed, bare_hash_seconds, moto_server
    from local.resources import provision

    counter = CountingClient()
    result: dict[str, Any] = {}
    with moto_server() as endpoint, counter.installed():
        os.environ["AWS_ENDPOINT_URL"] = endpoint
        resources = provision("us-east-1")
        os.environ.update(resources.environment())
        os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
        _reset_caches()
        _seed()
        ids = _seed_learners(count)
        from intake import card_service

        requestor = data.requestor()
        card_service.learner_cards(requestor, data.FACILITY, ids[:8])  # clients made, fpdf2 imported
        plain = without = with_reset = bare = float("inf")
        given = sample_cards(count)
        for _ in range(SERVICE_REPEATS):
            plain = min(plain, cpu_seconds(lambda: plain_pdf(given)))
            counter.reset()
            without = min(without, cpu_seconds(lambda: card_service.learner_cards(requestor, data.FACILITY, ids)))
            result["requests_without_reset"] = {"reads": counter.total(READS), "writes": counter.total(WRITES)}
            counter.reset()
            with_reset = min(
                with_reset,
                cpu_seconds(lambda: card_service.learner_cards(requestor, data.FACILITY, ids, reset_passwords=True)),
            )
            result["requests_with_reset"] = {"reads": counter.total(READS), "writes": counter.total(WRITES)}
            # Argon2id's cost is set by its parameters, not by the password: any `count` passwords will do
            bare = min(bare, bare_hash_seconds([f"Bench-card-{n:06d}" for n in range(count)])[0])
    result.update(
        {
            "learners": count,
            "service_cpu_seconds": without,
            "service_plain_cpu_seconds": plain,
            "reset_cpu_seconds": with_reset,
            "bare_hash_cpu_seconds": bare,
        }
    )
    return result


def main() -> None:
    use_fake_aws()
    import logging

    logging.disable(logging.WARNING)
    count = int(sys.argv[1])
    print(json.dumps({**rendering(count), **service(count)}))


if __name__ == "__main__":
    main()
