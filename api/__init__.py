"""The `/monitoring` API: one authenticated HTTP API over the stack's Prometheus, Alertmanager,
Grafana, Loki, Tempo and Pyroscope. Each endpoint reads the upstream that owns the data; nothing
is copied. Self-contained (its image copies this package only): `python -m api --help`."""
