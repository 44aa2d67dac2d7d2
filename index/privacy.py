"""ancre is local and offline: no library it uses may report usage.

OpenVINO's model converter (and NNCF) send usage statistics through the
``openvino_telemetry`` package unless a consent file under ``~/intel`` says no: a missing
file counts as consent, and the package writes ``~/intel/openvino_ga_cid`` and
``~/intel/stats``. Both libraries treat a missing package as "no telemetry", so ancre marks
it as not importable before OpenVINO is first used. Gradio's and Hugging Face's analytics
are switched off through their documented environment variables (a value the user set is
kept).
"""

from __future__ import annotations

import os
import sys

ENVIRONMENT = {
    "GRADIO_ANALYTICS_ENABLED": "False",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "DO_NOT_TRACK": "1",
}


def no_telemetry() -> None:
    """Opt out of every usage report; cheap and idempotent, called before OpenVINO loads."""
    if sys.modules.get("openvino_telemetry") is None:
        sys.modules["openvino_telemetry"] = None  # type: ignore[assignment]  # import fails
    for name, value in ENVIRONMENT.items():
        os.environ.setdefault(name, value)
