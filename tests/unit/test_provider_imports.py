"""The adapters of HTTP vendors cost nothing at import: httpx is loaded by their first call."""

from __future__ import annotations

import pytest

from tests.unit.conftest import declare_isolated
from tests.unit.processes import Started

ADAPTERS = {
    "simulator": "from retouch.providers.simulator import SimulatorProvider as P; "
    "P('http://127.0.0.1:9', 'k', 's')",
    "runninghub": "from retouch.providers.runninghub import RunningHubProvider as P; "
    "from retouch.providers.runninghub_options import RunningHubOptions as O; "
    "P('http://127.0.0.1:9', 'k', O())",
}


for _adapter, _build in ADAPTERS.items():  # a fresh interpreter each, run beside the others
    declare_isolated(
        f"provider-imports:{_adapter}",
        f"import sys; {_build}; "
        "loaded = sorted(n for n in sys.modules if n.split('.')[0] in ('httpx', 'httpcore')); "
        "print(' '.join(loaded)); sys.exit(bool(loaded))",
        module=__name__,
    )


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_importing_and_building_an_adapter_loads_no_http_client(
    background: Started, adapter: str
) -> None:
    result = background.result(f"provider-imports:{adapter}")

    assert result.returncode == 0, result.stdout + result.stderr
