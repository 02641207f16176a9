"""What the tests read from `python -m ganlib` output (imported by the test modules)."""

import json


def last_json(out: str) -> dict:
    """The last JSON object a command printed (one per line), or a failure showing `out`."""
    lines = [line for line in out.splitlines() if line.startswith("{")]
    assert lines, out
    return json.loads(lines[-1])
