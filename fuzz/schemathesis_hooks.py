"""Schemathesis hooks for `make fuzz` (loaded through SCHEMATHESIS_HOOKS by fuzz/api.py).

- Path ids: half the time a record of the demo case (FUZZ_API_IDS, a JSON file of ids by
  resource), else whatever schemathesis generated: reads, edits and workflow moves meet real
  records instead of answering 404.
- Every answer is written to FUZZ_API_LOG (one JSON line: operation, status), from which the
  summary counts requests and 5xx per operation."""

from __future__ import annotations

import json
import os
import threading

import schemathesis
from hypothesis import strategies as st

_IDS: dict[str, list] = json.loads(open(os.environ["FUZZ_API_IDS"]).read()) \
    if os.environ.get("FUZZ_API_IDS") else {}
_LOG_LOCK = threading.Lock()
_LOG = open(os.environ["FUZZ_API_LOG"], "a", buffering=1) \
    if os.environ.get("FUZZ_API_LOG") else None  # noqa: SIM115 (for the process' lifetime)


def _resource(path: str) -> str:
    parts = path.strip("/").split("/")  # api, v1, <resource>, ...
    return parts[2] if len(parts) > 2 else ""


@schemathesis.hook
def flatmap_path_parameters(context, path_parameters):
    ids = _IDS.get(_resource(context.operation.path))
    if not path_parameters or not ids:
        return st.just(path_parameters)
    name = "slug" if "slug" in path_parameters else "id" if "id" in path_parameters else None
    if name is None:
        return st.just(path_parameters)
    real = st.sampled_from(ids).map(lambda value: {**path_parameters, name: value})
    return st.one_of(real, st.just(path_parameters))


@schemathesis.hook
def after_call(context, case, response):
    if _LOG is None:
        return
    line = json.dumps({"operation": f"{case.operation.method.upper()} {case.operation.path}",
                       "status": response.status_code})
    with _LOG_LOCK:
        _LOG.write(line + "\n")
