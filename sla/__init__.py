"""SLA reports: `python -m sla report --stack <stack> --period YYYY-MM` (see `sla.report`)."""
