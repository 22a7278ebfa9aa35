"""One router a domain; each reads the upstream that owns its data."""
