"""`make lint`'s OpenAPI check: the document `GET /openapi.json` serves, linted by Redocly CLI's recommended rules.

The document is generated from the API's routers exactly as the handler serves it (no stack needed), written to
`.intake/openapi.json`, and linted with the pinned `@redocly/cli` from `node_modules` (`make install` runs `npm ci`).
Exits non-zero on any error or warning of the ruleset (`redocly.yaml`).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / ".intake" / "openapi.json"
REDOCLY = ROOT / "node_modules" / ".bin" / "redocly"


def document() -> str:
    os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "intake")
    for part in ("layers/common", "functions/api"):
        sys.path.insert(0, str(ROOT / part))
    import api_handler

    return str(api_handler.openapi_json())


def main() -> int:
    if not REDOCLY.exists():
        print(f"{REDOCLY} is missing: run `make install` (npm ci)", file=sys.stderr)
        return 2
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(document(), encoding="utf-8")
    config = ROOT / "redocly.yaml"
    lint = [str(REDOCLY), "lint", str(OUT), "--config", str(config), "--format", "stylish"]
    env = {**os.environ, "REDOCLY_TELEMETRY": "off", "REDOCLY_SUPPRESS_UPDATE_NOTICE": "true"}
    return subprocess.run(lint, cwd=ROOT, env=env, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
