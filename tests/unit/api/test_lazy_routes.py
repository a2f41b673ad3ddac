"""The API's routers load on the first request under their path, and the OpenAPI document still lists every route."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from local.template import load_template

ROOT = Path(__file__).resolve().parents[3]
CODE = ["layers/common", "functions/api"]
TRACING = ("POWERTOOLS_TRACE_DISABLED", "LAMBDA_TASK_ROOT", "AWS_XRAY_SDK_ENABLED", "AWS_LAMBDA_INITIALIZATION_TYPE")
HEALTH = json.loads((ROOT / "tests/events/api_request.json").read_text())


def _first_segment(rule: str) -> str:
    return rule.lstrip("/").split("/", 1)[0]


def _fresh(code: str, **env: str) -> Any:
    """Run `code` in a new interpreter (nothing imported yet, as in a new sandbox); its last line printed, as JSON."""
    environment = {name: value for name, value in os.environ.items() if name not in ("AWS_ENDPOINT_URL", *TRACING)}
    environment.update(PYTHONPATH=os.pathsep.join(str(ROOT / path) for path in CODE), POWERTOOLS_TRACE_DISABLED="1")
    environment.update(env)
    done = subprocess.run([sys.executable, "-c", code], env=environment, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.splitlines()[-1])


def test_the_segment_table_names_exactly_the_routers_with_a_route_under_each_segment() -> None:
    # Given every router's own routes
    import api_handler

    served: dict[str, set[str]] = {}
    for name in api_handler.ROUTER_MODULES:
        router = importlib.import_module(f"api_routes.{name}").router
        for rule, *_ in router._routes:
            served.setdefault(_first_segment(rule), set()).add(name)
    # When the handler's table is read as the same mapping
    table = {segment: set(modules) for segment, modules in api_handler.ROUTERS_BY_SEGMENT.items()}
    # Then it is the same: every router that can answer a path loads before the path is resolved (so a static route
    # still wins over a dynamic one), and no router loads for a path it does not serve
    assert table == served
    # And the table's tuples keep the order all routers were included in when they loaded at once
    for modules in api_handler.ROUTERS_BY_SEGMENT.values():
        assert list(modules) == sorted(modules, key=api_handler.ROUTER_MODULES.index)


def test_routers_for_maps_each_path_to_its_first_segment() -> None:
    import api_handler

    # Given paths with and without a trailing part, the root, and a path no router serves
    # Then each gets its segment's routers, and the unknown path none (Powertools answers it 404)
    assert api_handler.routers_for("/health") == ("health",)
    assert api_handler.routers_for("/facilities/f-1/learners") == api_handler.ROUTERS_BY_SEGMENT["facilities"]
    assert api_handler.routers_for("/") == ("web",)
    assert api_handler.routers_for("/static/app.js") == ("web",)
    assert api_handler.routers_for("/no-such-thing/x") == ()


def test_importing_the_handler_loads_no_router_and_health_loads_only_its_own() -> None:
    # Given a new interpreter, as a new sandbox
    code = (
        "import json, sys\n"
        "import api_handler\n"
        "from aws_lambda_powertools.utilities.typing import LambdaContext\n"
        "def loaded(): return sorted(m for m in sys.modules if m.startswith('api_routes.'))\n"
        "heavy = ('intake.domain', 'api_routes.models', 'pynamodb', 'botocore.client', 'boto3')\n"
        "after_import = (loaded(), [m for m in heavy if m in sys.modules])\n"
        f"event = {HEALTH!r}\n"
        "class Context:\n"
        "    function_name = 'api'; memory_limit_in_mb = 512; aws_request_id = 'r-1'\n"
        "    invoked_function_arn = 'arn:aws:lambda:us-east-1:123456789012:function:api'\n"
        "response = api_handler.lambda_handler(event, Context())\n"
        "print(json.dumps({'import': after_import, 'health': (loaded(), [m for m in heavy if m in sys.modules]),\n"
        "    'status': response['statusCode'], 'body': json.loads(response['body'])}))"
    )
    # When the handler is imported, then GET /health is called
    got = _fresh(code)
    # Then the import loads only the error mapping, and /health its one router: no domain, no DAL, no SDK
    assert got["import"] == [["api_routes.errors"], []]
    assert got["health"] == [["api_routes.errors", "api_routes.health"], []]
    assert (got["status"], got["body"]) == (200, {"status": "ok"})


def test_the_openapi_document_lists_every_route_of_every_router_and_of_the_template() -> None:
    # Given a new interpreter, where no router has loaded yet
    code = (
        "import json, api_handler\n"
        "doc = json.loads(api_handler.openapi_json())\n"
        "print(json.dumps(sorted([m.upper(), p] for p, item in doc['paths'].items() for m in item)))"
    )
    # When the OpenAPI document is generated there
    documented = {tuple(pair) for pair in _fresh(code)}
    # Then it documents every route the template sends to the function but the undocumented ones
    template = load_template()["Resources"]["ApiFunction"]["Properties"]["Events"]
    undocumented = {"/openapi.json", "/", "/docs", "/static/{file}", "/client-config"}
    routed = {
        (event["Properties"]["Method"].upper(), event["Properties"]["Path"])
        for event in template.values()
        if event["Properties"]["Path"] not in undocumented
    }
    assert routed == documented
    # And as many as the routers declare, all of them included
    import api_handler

    declared = sum(
        1
        for name in api_handler.ROUTER_MODULES
        for rule, _methods, *_ in importlib.import_module(f"api_routes.{name}").router._routes
        if not rule.startswith(("/static", "/docs", "/client-config")) and rule != "/"
    )
    assert len(documented) == declared


def test_a_snapstart_init_includes_every_router_before_the_snapshot() -> None:
    # Given the environment of a SnapStart initialisation (Lambda sets it while it runs the init to snapshot)
    code = (
        "import json, sys, api_handler\n"
        "print(json.dumps(sorted(m[len('api_routes.'):] for m in sys.modules if m.startswith('api_routes.'))))"
    )
    # When the handler is imported there
    loaded = _fresh(code, AWS_LAMBDA_INITIALIZATION_TYPE="snap-start")
    # Then every router is loaded (and so in the snapshot), the error mapping and the shared models with them
    import api_handler

    assert set(api_handler.ROUTER_MODULES) <= set(loaded)
    # And an on-demand init loads none of them
    assert _fresh(code, AWS_LAMBDA_INITIALIZATION_TYPE="on-demand") == ["errors"]
