"""Logging filters. Record keys (often citizen ids) travel in exchange URLs; logs never keep them."""

import logging
import re

# Up to the query, a quote, the end, or the " HTTP/1.1" of an access-log line: decoded keys may hold spaces.
_RECORD_PATH = re.compile(r"(/records/)[^?\"'\n]*?(?=\s+HTTP/|[?\"'\n]|$)")


class RedactRecordKeys(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = _RECORD_PATH.sub(r"\1[redacted]", message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True
