"""The events stream (``wiredesk:events``): what happened, for the desk and subscribers."""

from __future__ import annotations

import json
import logging
from typing import Any

from wiredesk import keys

log = logging.getLogger(__name__)


def emit(redis_client: Any, event_type: str, **payload: Any) -> None:
    """Append one event; a Redis hiccup must not undo the committed work, so it only logs."""
    try:
        redis_client.xadd(
            keys.EVENTS_STREAM, {"type": event_type, "data": json.dumps(payload, default=str)},
            maxlen=keys.EVENTS_STREAM_MAXLEN, approximate=True,
        )
    except Exception as exc:  # noqa: BLE001
        log.warning("could not emit %s: %s", event_type, exc)
