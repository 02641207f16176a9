"""Fail if a notebook is stored with outputs or execution counts."""

import json
import sys

dirty = []
for path in sys.argv[1:]:
    with open(path) as f:
        nb = json.load(f)
    for cell in nb["cells"]:
        if cell["cell_type"] == "code" and (cell.get("outputs") or cell.get("execution_count")):
            dirty.append(path)
            break
if dirty:
    sys.exit("stored with outputs (clear them: jupyter nbconvert --clear-output --inplace): "
             + ", ".join(dirty))
print(f"{len(sys.argv) - 1} notebooks clean")
