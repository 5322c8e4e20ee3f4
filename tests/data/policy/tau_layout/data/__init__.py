import json
import os
from typing import Any

FOLDER = os.path.dirname(__file__)


def load_data() -> dict[str, Any]:
    tables = {}
    for name in ("customers", "bikes"):
        with open(os.path.join(FOLDER, f"{name}.json")) as f:
            tables[name] = json.load(f)
    return tables
