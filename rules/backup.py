"""Backups: each run of the backup job pushes its result per service to the stack's Pushgateway
(backup/metrics.py); these alerts read it. A failed run keeps the time of the last success, so a
failure and a stale backup are told apart; a service the job never reported on is missing."""

from __future__ import annotations

from dataclasses import dataclass

from backup.plan import SERVICES
from rules.common import RuleContext, sel
from rules.model import AlertCase, AlertRule, ExpectedAlert, RuleGroup, RuleModule, Series
from rules.text import THRESHOLD, label
from settings.types import duration_seconds


@dataclass(frozen=True)
class BackupConfig:
    # The job pushes as job="backup" (the Pushgateway's scrape keeps it); its metric names are its own,
    # so the alerts select by name alone, plus these matchers (e.g. one stack's `env`) when set.
    selector: str = ""
    # A failed run may be retried (a Kubernetes Job's second pod) before it counts.
    failed_for: str = "10m"
    stale_for: str = "5m"


CONFIG = BackupConfig()
SERVICE = label("service")
ENV = label("env")
LABELS = {"env": "test", "job": "backup", "service": "grafana"}
DAY_S = 86400


def _series(metric: str, **labels: str) -> str:
    return metric + "{" + ",".join(f'{k}="{v}"' for k, v in {**LABELS, **labels}.items()) + "}"


def _metric(name: str, c: BackupConfig, *matchers: str) -> str:
    parts = [part for part in (c.selector, *matchers) if part]
    return name + (sel(*parts) if parts else "")


def _service(name: str) -> str:
    return f'service="{name}"'


def _text(text: str, labels: dict[str, str]) -> str:
    for name, value in labels.items():
        text = text.replace(label(name), value)
    return text


def failed(c: BackupConfig) -> AlertRule:
    summary = f"The backup of {SERVICE} failed."
    description = (f"The last run of the backup job for {SERVICE} ({ENV}) failed; its error is in the job's log. "
                   "The previous backup is still there and restorable.")
    fired = {"env": "test", "job": "backup", "service": "grafana"}
    return AlertRule(
        name="BackupFailed",
        expr=f"{_metric('backup_last_run_success', c)} == 0",
        for_=c.failed_for,
        severity="warning",
        summary=summary,
        description=description,
        dashboard="meta-monitoring",
        cases=(
            AlertCase("a run failed", (Series(_series("backup_last_run_success"), "1x5 0x20"),), "20m",
                      (ExpectedAlert(fired, _text(summary, fired), _text(description, fired)),)),
            AlertCase("runs succeed", (Series(_series("backup_last_run_success"), "1x25"),), "20m"),
        ),
    )


def stale(c: BackupConfig, stale_after: str) -> AlertRule:
    threshold = duration_seconds(stale_after)
    summary = f"The last successful backup of {SERVICE} is older than {THRESHOLD} seconds."
    description = (f"No backup of {SERVICE} ({ENV}) succeeded for more than {THRESHOLD} seconds: the job fails "
                   "(see BackupFailed), or it has not run at all (its container or CronJob).")
    fired = {"env": "test", "service": "grafana"}
    # Evaluated a day past the threshold; the recent success lies an hour before that moment.
    at = int(threshold + DAY_S)
    samples = at // 60 + 1
    return AlertRule(
        name="BackupStale",
        expr=f"time() - max by (env, service) ({_metric('backup_last_success_timestamp_seconds', c)}) > {{threshold}}",
        threshold=threshold,
        for_=c.stale_for,
        severity="warning",
        summary=summary,
        description=description,
        dashboard="meta-monitoring",
        cases=(
            AlertCase("the last success is too old", (Series(_series("backup_last_success_timestamp_seconds"),
                                                             f"0x{samples}"),), f"{at}s",
                      (ExpectedAlert(fired, _text(summary, fired).replace(THRESHOLD, f"{threshold:g}"),
                                     _text(description, fired).replace(THRESHOLD, f"{threshold:g}")),)),
            AlertCase("a recent success", (Series(_series("backup_last_success_timestamp_seconds"),
                                                  f"{at - 3600}x{samples}"),), f"{at}s"),
        ),
    )


def reported(ctx: RuleContext) -> tuple[str, ...]:
    """The services each run reports on: every one of backup.plan.SERVICES, Tempo and Pyroscope only
    while they run (the Pushgateway always does where these rules exist: they need it)."""
    off = {"tempo"} if not ctx.traces else set()
    off |= {"pyroscope"} if not ctx.profiles else set()
    return tuple(service for service in SERVICES if service not in off)


def missing(c: BackupConfig, stale_after: str, services: tuple[str, ...] = SERVICES) -> AlertRule:
    summary = f"No backup of {SERVICE} was ever reported."
    description = (f"The backup job has not pushed a result for {SERVICE} for {stale_after}: the job does not run "
                   "(a Docker container stopped, a CronJob that cannot be scheduled) or cannot reach the Pushgateway.")
    expr = " or ".join(
        f"absent({_metric('backup_last_success_timestamp_seconds', c, _service(service))})" for service in services
    )
    hours = int(duration_seconds(stale_after) // 3600) + 2
    present = tuple(
        Series(_series("backup_last_success_timestamp_seconds", service=s), f"0x{hours * 60}") for s in services
    )
    fired = {"service": "grafana"}
    return AlertRule(
        name="BackupMissing",
        expr=expr,
        for_=stale_after,
        severity="warning",
        summary=summary,
        description=description,
        dashboard="meta-monitoring",
        cases=(
            AlertCase("grafana never reported", tuple(s for s in present if 'service="grafana"' not in s.series),
                      f"{hours}h", (ExpectedAlert(fired, _text(summary, fired), _text(description, fired)),)),
            AlertCase("every service reported", present, f"{hours}h"),
        ),
    )


def build(ctx: RuleContext, config: BackupConfig = CONFIG) -> RuleModule | None:
    if ctx.backup_stale_after is None:
        return None
    rules = (failed(config), stale(config, ctx.backup_stale_after), missing(config, ctx.backup_stale_after, reported(ctx)))
    return RuleModule(domain="backup", component="stack", groups=(RuleGroup("backup.alerts", rules),))
