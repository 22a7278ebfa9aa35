"""`python -m tests.properties.preview_probe STACK CONFIG OUT`: the offline preview (`preview.run`,
the real program under the mock engine) with one addition: it prints, as its last line, how many
resources the program registered with the engine (beyond the root stack the engine registers
itself), so a test can tell a clean refusal (none) from a half-declared stack."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import preview.engine
from preview.__main__ import run

monitors: list[preview.engine.RecordingMonitor] = []


class CountingMonitor(preview.engine.RecordingMonitor):
    def __init__(self, mocks):
        super().__init__(mocks)
        monitors.append(self)


if __name__ == "__main__":
    stack, config, out = sys.argv[1:4]
    preview.engine.RecordingMonitor = CountingMonitor  # run() looks it up when it starts
    code = run(stack, Path(config), Path(out), quiet=True)
    registered = [r.type for monitor in monitors for r in monitor.registrations if r.type != "pulumi:pulumi:Stack"]
    print(json.dumps({"exit": code, "registered": len(registered)}))
    sys.exit(code)
