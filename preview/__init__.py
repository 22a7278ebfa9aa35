"""Offline preview: the real Pulumi program under the SDK's mock engine (no CLI, account or Docker)."""
