"""`make bench`: every benchmark of issue #5 as a ratio to a baseline measured in this run, with its target.

Ratios, never absolute times: the machine (2 shared cores here) changes, a ratio to a baseline measured alongside
does much less. Throughput ratios use CPU time of the measuring process where the work is CPU-bound (validation,
hashing, the worker against a moto server in another process), wall time where the client waits (the local API).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import baseline
from bench.env import ROOT, child_environment, use_fake_aws
from bench.report import Result

VALIDATION_SIZES = ((10_000, 3), (100_000, 3), (1_000_000, 1))  # rows, repeats of each pass
LOOKUP_ROWS = 20_000
CREATED_LEARNERS = 200  # per chunk: the template's CREATION_CHUNK_SIZE
IMPORT_REPEATS = 5
LIBRARY_REPEATS = 9  # handler / its libraries: one ~0.2 s process each, cheap enough for more
HEALTH_REQUESTS, LEARNER_REQUESTS = 200, 20
CARD_LEARNERS = 500  # the most one request prints (contract: learnerIds 1..500)
ROSTER_LEARNERS = 5_000  # one facility's learners (issue #15)
SYNC_LEARNERS = 5_000  # a facility's nightly roster with 1% changes (issue #17)
SYNC_MEMORY_ROWS = 200_000  # an agency-wide roster file (issue #17, docs/scaling.md)


def _child(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=child_environment(), capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def validation() -> list[Result]:
    """Rows/s of the validator's CPU (reading, checking, planning) against csv.reader, and peak memory, per size."""
    results = []
    with tempfile.TemporaryDirectory() as scratch:
        for rows, repeats in VALIDATION_SIZES:
            path = Path(scratch) / f"roster-{rows}.csv"
            _child("-m", "bench.validation", "write", str(path), str(rows))
            got = json.loads(_child("-m", "bench.validation", "measure", str(path), str(repeats)))
            got.update(json.loads(_child("-m", "bench.validation", "memory", str(path))))
            ratio = got["bare_seconds"] / got["full_seconds"]
            detail = (
                f"{rows / got['full_seconds']:,.0f} rows/s vs {rows / got['bare_seconds']:,.0f} csv rows/s (CPU), "
                f"{got['invalid']} invalid rows; reading + checking + planning (look-ups in memory)"
            )
            results.append(Result(f"validation {rows:,} rows / csv.reader", ratio, 0.35, detail=detail))
            results.append(
                Result(
                    "  checking alone / csv.reader (info)",
                    got["bare_seconds"] / got["check_seconds"],
                    None,
                    detail=f"{rows / got['check_seconds']:,.0f} rows/s: check_file only, the figure before issue 20",
                )
            )
            results.append(
                Result(
                    f"validation {rows:,} rows peak RSS",
                    got["peak_mb"],
                    200 if rows >= 1_000_000 else None,
                    at_least=False,
                    unit="MB",
                    detail="a fresh process validating the file once (planning included), interpreter included",
                )
            )
            path.unlink()
    return results


def dynamodb() -> list[Result]:
    """Reads per 1,000 validated rows, the worker against bare hashing, writes and WCU per learner."""
    got = json.loads(_child("-m", "bench.dynamo", str(LOOKUP_ROWS), str(CREATED_LEARNERS)).splitlines()[-1])
    reads = got["read_requests"] / got["rows"] * 1000
    learners, warm = got["learners"], got["chunk_learners"]
    writes = got["write_requests"] / learners
    wcu, wcu_detail = _write_units_per_learner(got)
    return [
        Result(
            f"DynamoDB reads per 1,000 rows ({got['rows']:,} rows)",
            reads,
            11,
            at_least=False,
            unit="req",
            detail=", ".join(f"{name}: {n}" for name, n in sorted(got["reads_by_operation"].items())),
        ),
        Result(
            f"worker / bare Argon2id ({warm} learners, CPU)",
            got["bare_hash_cpu_seconds"] / got["worker_cpu_seconds"],
            0.90,
            detail=f"{warm / got['worker_cpu_seconds']:.1f} learners/s vs "
            f"{warm / got['bare_hash_cpu_seconds']:.1f} hashes/s; best warm chunk vs best bare pass (moto apart)",
        ),
        Result(
            "  worker's first chunk / bare Argon2id (info)",
            got["bare_hash_cpu_seconds"] / got["first_chunk_cpu_seconds"],
            None,
            detail="the invocation that creates the SDK clients (once per Lambda environment)",
        ),
        Result(
            f"worker / bare Argon2id ({warm} learners, wall)",
            got["bare_hash_wall_seconds"] / got["worker_wall_seconds"],
            0.75,
            detail="best warm chunk vs best bare pass, waiting on moto over loopback included (hashing overlaps it)",
        ),
        Result(
            "DynamoDB write requests per learner",
            writes,
            1.05,
            at_least=False,
            unit="req",
            detail=", ".join(f"{name}: {n}" for name, n in sorted(got["writes_by_operation"].items())),
        ),
        Result(
            "WCU per learner (table + GSIs, 1 KB units)",
            wcu,
            4.1,
            at_least=False,
            unit="WCU",
            detail=wcu_detail,
        ),
    ]


def _write_units_per_learner(got: dict) -> tuple[float, str]:
    """WCU per created learner from the items the run wrote, by AWS's sizing: 1 WCU per started KB of the item (the
    run's largest item of its table; the creating upload's for uploads), once for the table and once for each GSI a
    new item enters; an item written in a transaction costs twice; a refused conditional write is charged too.

    A put enters every GSI of its table (a new learner carries all four index keys); an update of an upload (a
    part's counters, a status) changes no attribute its byFacility index holds, so it writes no index entry."""
    from bench.dynamo import write_units

    learners, sizes, indexes = got["learners"], got["table_item_bytes"], got["table_indexes"]
    sizes = {**sizes, got["uploads_table"]: got["upload_item_bytes"]}  # the creating upload's (not the validated one's)
    total, parts = 0.0, []
    for how, table, items in got["written_items"]:
        entered = 0 if table.endswith("UploadsTable") else indexes.get(table, 0)
        per_item = write_units(sizes.get(table, 0)) * (1 + entered) * (2 if how == "transaction" else 1)
        total += items * per_item
        short = table.removeprefix("intake-").removesuffix("Table")
        parts.append(f"{short}: {items} {how} x {per_item} ({sizes.get(table, 0)} B, {entered} GSIs)")
    return total / learners, "; ".join(parts)


def roster() -> list[Result]:
    """Issue #15: DynamoDB requests of a roster page, of prefix searches, and of a status change of 500 learners."""
    got = json.loads(_child("-m", "bench.roster", str(ROSTER_LEARNERS)).splitlines()[-1])

    def listed(by_operation: dict[str, int]) -> str:
        return ", ".join(f"{name}: {n}" for name, n in sorted(by_operation.items())) or "none"

    results = [
        Result(
            f"roster Queries / page of 50 ({got['learners']:,})",
            got["page_queries"] / got["pages"],
            1,
            at_least=False,
            unit="req",
            detail=f"{got['pages']} pages in a row, following nextCursor; the byRosterName index, no BatchGet",
        ),
        Result(
            "  all requests / page, scope check in (info)",
            got["page_requests"] / got["pages"],
            None,
            at_least=False,
            unit="req",
            detail=f"the scope check's reads included: {listed(got['page_requests_by_operation'])}",
        ),
        Result(
            "  roster Queries / page, status=ALL (info)",
            got["all_page_queries"],
            None,
            at_least=False,
            unit="req",
            detail="one Query per status partition, merged by name",
        ),
    ]
    for name, label in (("doc", "DOC ID prefix"), ("name", "name prefix"), ("first last", '"first last"')):
        results.append(
            Result(
                f"roster Queries / search, {label}",
                got[f"search_{name}_queries"],
                3,
                at_least=False,
                unit="req",
                detail=f"q={got[f'search_{name}_q']!r}; all requests {got[f'search_{name}_requests']:g}: "
                f"{listed(got[f'search_{name}_by_operation'])} (over repeats)",
            )
        )
    changed = got["status_change"]
    results += [
        Result(
            f"status change of {changed}: writes / learner",
            got["status_learner_writes"] / changed,
            1.05,
            at_least=False,
            unit="req",
            detail=f"learners table only; audit entries written apart: {got['status_audit_writes']} batch writes "
            f"({got['status_audit_writes'] / changed:.3f} per learner), {got['status_other_writes']} other writes",
        ),
        Result(
            "  all writes / learner, audit in (info)",
            (got["status_learner_writes"] + got["status_audit_writes"] + got["status_other_writes"]) / changed,
            None,
            at_least=False,
            unit="req",
            detail=f"{got['status_reads']} reads to find the {changed} "
            f"({got['status_reads'] / changed:.2f} per learner); {got['status_change_seconds']:.1f} s, in-process moto",
        ),
        Result(
            f"hashes during a status change of {changed}",
            got["status_hashes"],
            0,
            at_least=False,
            unit="hash",
            detail="every PasswordHasher.hash call counted",
        ),
    ]
    return results


def cold_start() -> list[Result]:
    """Issue 20: each handler's import against its libraries alone, the API's first call against a minimal
    Powertools REST handler's (the targets); against `import boto3`, with tracing on and with a first call (info)."""
    from bench.coldstart import HANDLERS, first_invocation_medians, lambda_medians, library_medians, medians

    libraries = library_medians(LIBRARY_REPEATS)
    first = first_invocation_medians(IMPORT_REPEATS)
    runs = f"median of {IMPORT_REPEATS}, interleaved"
    results = []
    for handler in HANDLERS:
        alone, own = libraries[f"{handler} libraries"], libraries[f"{handler} own"]
        results.append(
            Result(
                f"import {handler} / its libraries alone",
                libraries[f"{handler} ratio"],
                1.15,
                at_least=False,
                detail=f"Intake's own code {own * 1000:.0f} ms after {alone * 1000:.0f} ms CPU for the "
                f"{libraries[f'{handler} modules']:.0f} modules it loads that are not Intake's, imported alone in the "
                f"same process first (median of {LIBRARY_REPEATS} processes, bytecode cached)",
            )
        )
    minimal = first["minimal_api cpu"]
    results.append(
        Result(
            "api_handler + GET /health / minimal Powertools",
            first["api_handler health cpu"] / minimal,
            1.3,
            at_least=False,
            detail=f"import + first call, tracing on as on Lambda: {first['api_handler health cpu'] * 1000:.0f} ms vs "
            f"{minimal * 1000:.0f} ms CPU (wall {first['api_handler health'] * 1000:.0f} vs "
            f"{first['minimal_api'] * 1000:.0f} ms); bench/minimal_api.py: one route, the same decorators ({runs})",
        )
    )
    results.append(
        Result(
            "  api_handler + GET /facilities / minimal (info)",
            first["api_handler facilities cpu"] / minimal,
            None,
            at_least=False,
            detail=f"{first['api_handler facilities cpu'] * 1000:.0f} ms CPU, tracing on: authenticated, the staff "
            "look-up in DynamoDB (moto in another process): PynamoDB, botocore and the SDK client load with it",
        )
    )
    # The old target, "import / import boto3 <= 1.5": boto3 is not what a handler imports (none imports it at start),
    # and the libraries a handler does import took 1.5-1.6 x boto3 alone, so it measured the libraries, not Intake.
    figures = (
        ("  import {} / import boto3 (info)", medians(IMPORT_REPEATS), "-X importtime; "),
        ("  {} tracing on (Lambda) / boto3 (info)", lambda_medians(IMPORT_REPEATS), "X-Ray SDK, botocore patched; "),
        ("  {} + first call / boto3 (info)", first, "moto in another process; "),
    )
    for handler in HANDLERS:
        for name, got, note in figures:
            results.append(
                Result(
                    name.format(handler),
                    got[handler] / got["boto3"],
                    None,
                    at_least=False,
                    detail=f"{note}{got[handler] * 1000:.0f} ms vs {got['boto3'] * 1000:.0f} ms ({runs})",
                )
            )
    return results


def cards() -> list[Result]:
    """Learner cards: the layout against the same text written plainly with fpdf2, and resets against bare hashing."""
    got = json.loads(_child("-m", "bench.cards", str(CARD_LEARNERS)).splitlines()[-1])
    count = got["learners"]
    without, with_reset = got["requests_without_reset"], got["requests_with_reset"]
    return [
        Result(
            f"cards for {count} learners / plain PDF (CPU)",
            got["layout_cpu_seconds"] / got["plain_cpu_seconds"],
            2,
            at_least=False,
            detail=f"{got['layout_cpu_seconds'] * 1000:.0f} ms vs {got['plain_cpu_seconds'] * 1000:.0f} ms: the same "
            "text page by page with fpdf2, one font, no layout",
        ),
        Result(
            f"  {count} cards' PDF size",
            got["pdf_bytes"] / 1024 / 1024,
            2,
            at_least=False,
            unit="MB",
            detail="API Gateway answers up to 10 MB, a Lambda proxy response up to 6 MB (base64: x4/3)",
        ),
        Result(
            "  card_service without reset / plain PDF (info)",
            got["service_cpu_seconds"] / got["service_plain_cpu_seconds"],
            None,
            at_least=False,
            detail=f"{got['service_cpu_seconds']:.2f} s CPU with the learners read from moto: "
            f"{without['reads']} reads, {without['writes']} writes",
        ),
        Result(
            "cards with reset / bare Argon2id (CPU)",
            got["reset_cpu_seconds"] / got["bare_hash_cpu_seconds"],
            1.1,
            at_least=False,
            detail=f"{got['reset_cpu_seconds']:.2f} s vs {got['bare_hash_cpu_seconds']:.2f} s for {count} hashes; "
            f"{with_reset['reads']} reads, {with_reset['writes']} writes",
        ),
    ]


def sign_in() -> list[Result]:
    """Issue #16: CPU of a learner sign-in against one bare Argon2id verify, and its DynamoDB requests."""
    got = json.loads(_child("-m", "bench.sign_in").splitlines()[-1])
    ratio, cpu, requests = got["ratio"], got["cpu_seconds"], got["requests"]

    def ms(kind: str) -> str:
        low, high = got["ratio_range"][kind]
        return f"{cpu[kind] * 1000:.1f} ms vs {cpu['bare_verify'] * 1000:.1f} ms, passes {low:.3f}-{high:.3f}"

    def listed(kind: str) -> str:
        return ", ".join(f"{name}: {n}" for name, n in sorted(requests[kind]["by_operation"].items())) or "none"

    runs = f"median of {got['passes']} passes of {got['sign_ins_per_pass']}, interleaved"
    failed = max(requests["unknown"]["per_call"], requests["wrong_password"]["per_call"])
    return [
        Result(
            "sign-in success / bare verify (CPU)",
            ratio["success"],
            1.15,
            at_least=False,
            detail=f"{ms('success')}; {runs}; moto's own CPU left out "
            f"(with it: {got['ratio_with_moto']['success']:.3f})",
        ),
        Result(
            "  by DOC ID / bare verify (CPU, info)",
            ratio["success_by_doc_id"],
            None,
            at_least=False,
            detail=ms("success_by_doc_id"),
        ),
        Result(
            "sign-in unknown username / bare verify (CPU)",
            ratio["unknown"],
            1.15,
            at_least=False,
            detail=f"{ms('unknown')}: the dummy hash's verify; a new username each time (five would lock one)",
        ),
        Result(
            "  unknown username / bare verify, at least",
            ratio["unknown"],
            0.9,
            detail="the timing does not reveal that a username does not exist",
        ),
        Result(
            "  wrong password / bare verify (CPU, info)",
            ratio["wrong_password"],
            None,
            at_least=False,
            detail=f"{ms('wrong_password')}; a known learner, four in a row at most",
        ),
        Result(
            "DynamoDB requests / successful sign-in",
            requests["success"]["per_call"],
            2,
            at_least=False,
            unit="req",
            detail=f"by username, the facility's switch cached: {listed('success')}; by DOC ID "
            f"{requests['success_by_doc_id']['per_call']:g}: {listed('success_by_doc_id')}",
        ),
        Result(
            "  first sign-in of a sandbox (info)",
            got["first_requests"],
            None,
            at_least=False,
            unit="req",
            detail="the facility's learnerAccess read: "
            + ", ".join(f"{name}: {n}" for name, n in sorted(got["first_by_operation"].items())),
        ),
        Result(
            "DynamoDB requests / failed sign-in",
            failed,
            3,
            at_least=False,
            unit="req",
            detail=f"wrong password {requests['wrong_password']['per_call']:g}: {listed('wrong_password')}; "
            f"unknown username {requests['unknown']['per_call']:g}: {listed('unknown')}",
        ),
    ]


def sync() -> list[Result]:
    """Issue #17: a nightly roster of 5,000 with 1% changes: planning's CPU, reads, writes, hashes; 200,000's memory."""
    got = json.loads(_child("-m", "bench.sync", "measure", str(SYNC_LEARNERS)).splitlines()[-1])
    big = json.loads(_child("-m", "bench.sync", "memory", str(SYNC_MEMORY_ROWS)).splitlines()[-1])
    rows, done, planned = got["rows"], got["done_counts"], got["plan_counts"]
    changed = sum(int(done.get(name) or 0) for name in ("created", "moved", "reactivated", "updated", "deactivated"))
    new_passwords = int(done.get("created") or 0) + int(done.get("reactivated") or 0)
    hashes = got["validate_hashes"] + got["apply_hashes"]

    def listed(by_operation: dict[str, int]) -> str:
        return ", ".join(f"{name}: {n}" for name, n in sorted(by_operation.items())) or "none"

    plan = ", ".join(f"{name} {planned.get(name, 0)}" for name in ("toCreate", "toUpdate", "unchanged", "toDeactivate"))
    return [
        Result(
            f"sync planning {rows:,} rows / csv.reader",
            got["bare_seconds"] / got["plan_seconds"],
            0.25,
            detail=f"{rows / got['plan_seconds']:,.0f} rows/s vs {rows / got['bare_seconds']:,.0f} csv rows/s (CPU, "
            f"best of {got.get('repeats', 5)}); checker + sync planner, the {got['learners']:,}-learner roster in "
            f"memory; planned {listed(got['planned_actions'])}",
        ),
        Result(
            "  sync validation, whole CPU / csv.reader (info)",
            got["bare_seconds"] / got["validate_cpu_seconds"],
            None,
            detail=f"validate_object of the drop: S3, DynamoDB over HTTP, plan chunks, reports; "
            f"{got['validate_cpu_seconds']:.2f} s CPU ({got['validate_warm_cpu_seconds']:.2f} s warm), "
            f"{got['validate_wall_seconds']:.2f} s wall; {plan}",
        ),
        Result(
            "sync DynamoDB reads / 1,000 rows",
            got["read_requests"] / rows * 1000,
            11,
            at_least=False,
            unit="req",
            detail=f"the roster's Query pages included ({got['roster_queries']}): {listed(got['reads_by_operation'])}",
        ),
        Result(
            "sync apply writes / (changed + audit entries)",
            got["apply_writes"] / (changed + got["audit_entries"]),
            1.05,
            at_least=False,
            unit="req",
            detail=f"{got['apply_writes']} write requests for {changed} changed learners and {got['audit_entries']} "
            f"audit entries ({listed(got['audit_actions'])}); {got['parts']} parts, {got['final_status']}: "
            f"{listed(got['writes_by_operation'])}",
        ),
        Result(
            "sync hashes for unchanged rows",
            hashes - new_passwords,
            0,
            at_least=False,
            unit="hash",
            detail=f"{hashes} PasswordHasher.hash calls in all ({got['validate_hashes']} validating), "
            f"{new_passwords} for created or reactivated learners; {planned.get('unchanged', 0)} unchanged rows",
        ),
        Result(
            f"sync planning {big['rows']:,} rows peak RSS",
            big["peak_mb"],
            300,
            at_least=False,
            unit="MB",
            detail=f"whole process, interpreter included ({big['before_plan_mb']:.0f} MB before planning); "
            f"{big['file_mb']:.1f} MB file, {big['rows']:,} active learners in the roster port; "
            f"{big['plan_seconds']:.1f} s CPU ({big['plan_seconds'] / big['rows'] * 1e6:.1f} µs/row)",
        ),
    ]


def local_api() -> list[Result]:
    """The local stack's API over loopback against bare hashing (reported: the issue sets no target)."""
    from bench.api import measure

    got = measure(HEALTH_REQUESTS, LEARNER_REQUESTS)
    return [
        Result(
            "GET /health req/s / Argon2id hashes/s",
            got["health_per_second"] / got["hashes_per_second"],
            None,
            detail=f"{got['health_per_second']:.0f} req/s vs {got['hashes_per_second']:.1f} hashes/s (wall)",
        ),
        Result(
            "POST /learners req/s / Argon2id hashes/s",
            got["learners_per_second"] / got["hashes_per_second"],
            None,
            detail=f"{got['learners_per_second']:.1f} req/s (one hash each) vs {got['hashes_per_second']:.1f}",
        ),
    ]


def main(only: list[str]) -> int:
    """Run every benchmark (or the groups named, e.g. `python -m bench.run validation`); exit 1 if any fails."""
    use_fake_aws()
    started = time.perf_counter()
    # This machine's own speed first, one line each: runs on different machines are compared knowing it
    for figure in baseline.figures():
        print(figure.line(), flush=True)
    print(f"{'benchmark':<44} {'value':>9} {'unit':<6} {'target':<10} {'':<5} detail", flush=True)
    results: list[Result] = []
    groups = (validation, dynamodb, roster, sync, cold_start, cards, sign_in, local_api)
    for group in [group for group in groups if not only or group.__name__ in only]:
        for result in group():
            results.append(result)
            print(result.line(), flush=True)
    failed = [result for result in results if result.verdict == "FAIL"]
    print(f"{len(results)} figures, {len(failed)} FAIL, {time.perf_counter() - started:.0f} s", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
