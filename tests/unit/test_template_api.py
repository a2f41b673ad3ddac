"""The API function's size: its longest request, 500 learner cards with new passwords, ends inside the 29 s."""

from __future__ import annotations

from intake.learner_service import SELECTION_MAX
from local.template import load_template

# API Gateway's REST integration timeout: an answer later than this is a 504 whatever the function does
GATEWAY_SECONDS = 29
# docs/scaling.md's figures (no timing here): Argon2id with Intake's parameters on one Lambda vCPU, the whole card
# request over its hashes (bench `cards`: with password reset ÷ bare Argon2id, target 1.1) and each learner's write
HASH_SECONDS_AT_ONE_VCPU = 0.023
CARDS_OVER_HASHES = 1.1
WRITE_WAIT_SECONDS = 0.005


def _api() -> dict[str, int]:
    template = load_template()
    props = template["Resources"]["ApiFunction"]["Properties"]
    globals_ = template["Globals"]["Function"]
    return {
        "MemorySize": props.get("MemorySize", globals_["MemorySize"]),
        "Timeout": props.get("Timeout", globals_["Timeout"]),
    }


def test_500_cards_with_new_passwords_end_well_inside_the_gateways_29_seconds() -> None:
    # Given the API function's memory (1,769 MB is one vCPU) and timeout
    api = _api()
    cpu_share = min(1.0, api["MemorySize"] / 1769)
    # When the largest card print with new passwords is costed: its CPU at that share, and its writes waited for
    seconds = SELECTION_MAX * (HASH_SECONDS_AT_ONE_VCPU * CARDS_OVER_HASHES / cpu_share + WRITE_WAIT_SECONDS)
    # Then it ends with a third of the gateway's time to spare, and the function's timeout is not shorter
    assert seconds < GATEWAY_SECONDS * 2 / 3, seconds
    assert api["Timeout"] >= GATEWAY_SECONDS
