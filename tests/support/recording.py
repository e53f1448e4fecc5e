"""Where the e2e services record the query shapes they send (crm_common.query_shapes)."""

from __future__ import annotations

import os
from pathlib import Path

from crm_common.query_shapes import SHAPES_FILE_ENV


def shapes_file(var_dir: Path) -> Path:
    """The e2e stack's recording; ``CRM_QUERY_SHAPES_FILE`` puts it elsewhere (to keep a
    recording past the session, which starts by emptying ``var_dir``)."""
    return Path(os.environ.get(SHAPES_FILE_ENV) or var_dir / "query-shapes.jsonl")
