"""drone-perception: film and follow a person at a safe distance.

Pure cores (geometry, tracking, estimation, control, the safety governor) take explicit time and do no I/O;
cameras, sockets, files and clocks live at the edges. See DESIGN.md for the safety charter.
"""

import os as _os

# Offline by design: ONNX Runtime's native telemetry looks up a Microsoft events host a few seconds into a session
# (seen with strace on onnxruntime 1.32). Only this variable, set before onnxruntime is imported, stops it; every
# detector import goes through this package first. A user's explicit setting is kept.
_os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

__version__ = "0.1.0"
