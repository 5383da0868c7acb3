"""The adapters of HTTP vendors cost nothing at import: httpx is loaded by their first call."""

from __future__ import annotations

import pytest

from tests.unit.conftest import run_isolated

ADAPTERS = {
    "simulator": "from retouch.providers.simulator import SimulatorProvider as P; "
    "P('http://127.0.0.1:9', 'k', 's')",
    "runninghub": "from retouch.providers.runninghub import RunningHubProvider as P; "
    "from retouch.providers.runninghub_options import RunningHubOptions as O; "
    "P('http://127.0.0.1:9', 'k', O())",
}


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_importing_and_building_an_adapter_loads_no_http_client(adapter: str) -> None:
    check = (
        f"import sys; {ADAPTERS[adapter]}; "
        "loaded = sorted(n for n in sys.modules if n.split('.')[0] in ('httpx', 'httpcore')); "
        "print(' '.join(loaded)); sys.exit(bool(loaded))"
    )
    result = run_isolated(check)

    assert result.returncode == 0, result.stdout + result.stderr
