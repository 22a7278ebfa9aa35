"""The CrossGuard policies the pack serves: one per catalog entry, at its enforcement level."""

from __future__ import annotations

from pulumi_policy import EnforcementLevel, ResourceValidationPolicy, StackValidationPolicy

from policies.catalog import ADVISORY, RESOURCE_POLICIES, STACK_POLICIES
from policies.crossguard import policies


def test_pack_serves_every_catalog_policy_at_its_level():
    served = {policy.name: policy for policy in policies()}
    assert sorted(served) == sorted(p.name for p in (*RESOURCE_POLICIES, *STACK_POLICIES))
    assert all(isinstance(served[p.name], ResourceValidationPolicy) for p in RESOURCE_POLICIES)
    assert all(isinstance(served[p.name], StackValidationPolicy) for p in STACK_POLICIES)
    for policy in (*RESOURCE_POLICIES, *STACK_POLICIES):
        expected = EnforcementLevel.ADVISORY if policy.enforcement == ADVISORY else EnforcementLevel.MANDATORY
        assert served[policy.name].enforcement_level == expected, policy.name
