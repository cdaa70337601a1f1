"""Entry point of the tenantops policy pack: the engine starts it and talks to the analyzer it serves.

The policies live in `tenantops_infra.policy_pack`, where tests import them without an engine.
"""

import sys
from pathlib import Path

INFRA = Path(__file__).resolve().parent.parent
if str(INFRA) not in sys.path:
    sys.path.insert(0, str(INFRA))

from pulumi_policy import EnforcementLevel, PolicyPack  # noqa: E402

from tenantops_infra.policy_pack import PACK_NAME, POLICIES  # noqa: E402

PolicyPack(name=PACK_NAME, enforcement_level=EnforcementLevel.MANDATORY, policies=list(POLICIES))
