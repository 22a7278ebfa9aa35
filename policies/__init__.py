"""The monitoring stack's policy pack: CrossGuard (`pulumi preview --policy-pack policies`) and the same
checks offline (`python -m policies check build/<stack>/resources.json`)."""
