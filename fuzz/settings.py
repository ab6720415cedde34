"""The fuzz server's settings: production's (config/settings.py, with the throwaway production
environment of config/production_env.py), with one difference: the log names each request's
X-Fuzz-Id beside its traceback, so that every server exception is traced to the input that
caused it. Errors only: the fuzzer's thousands of refused inputs would bury them among warnings."""

import logging

from config.settings import *  # noqa: F403

FUZZ_ID_META = "HTTP_X_FUZZ_ID"


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        request = getattr(record, "request", None)
        meta = getattr(request, "META", None) or {}
        record.fuzz_id = meta.get(FUZZ_ID_META, "-")
        return True


LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"fuzz_id": {"()": "fuzz.settings.RequestIdFilter"}},
    "formatters": {"fuzz": {
        "format": "%(asctime)s %(levelname)s %(name)s [fuzz-id %(fuzz_id)s] %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["fuzz_id"],
                             "formatter": "fuzz", "level": "ERROR"}},
    "root": {"handlers": ["console"], "level": "ERROR"},
}
