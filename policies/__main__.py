"""`pulumi preview --policy-pack policies` runs this file and serves the pack; `python -m policies check
<resources.json>` runs the same policies over a saved preview without constructing the pack."""

import sys
from pathlib import Path

# Run by the CLI as a directory, the pack needs the repository (services/, platforms/) importable.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

if sys.argv[1:2] == ["check"]:
    from policies.check import main

    sys.exit(main(sys.argv[2:]))

from pulumi_policy import EnforcementLevel, PolicyPack  # noqa: E402

from policies.crossguard import policies  # noqa: E402

PolicyPack(name="monitoring", enforcement_level=EnforcementLevel.MANDATORY, policies=policies())
