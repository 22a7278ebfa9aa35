"""Active alerts and acknowledgements (Alertmanager v2), and the alert rules (Prometheus, plus the
user rules this API writes)."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta, timezone

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from api.auth import require_read, require_write
from api.errors import ApiError
from api import rules_store as store
from api.models import Ack, AckBody, Alert, AlertList, Rule, RuleDeleted, RuleList, RulesWritten, RuleWritten, Unack
from api.rules_store import GROUP_PREFIX, AlertRuleBody

router = APIRouter(prefix="/monitoring")
FINGERPRINT = r"^[0-9a-f]{16}$"


def _up(request: Request):
    return request.app.state.upstreams


def _alert(raw: dict) -> Alert:
    return Alert(id=raw["fingerprint"], name=raw["labels"].get("alertname", ""), state=raw["status"]["state"],
                 labels=raw["labels"], annotations=raw.get("annotations", {}), starts_at=raw["startsAt"],
                 silenced_by=raw["status"].get("silencedBy", []))


@router.get("/alerts", response_model=AlertList, dependencies=[Depends(require_read)],
            summary="Active alerts, each with its Alertmanager fingerprint as id")
async def alerts(request: Request) -> AlertList:
    raw = await _up(request).json("alertmanager", "/api/v2/alerts")
    return AlertList(alerts=sorted((_alert(a) for a in raw), key=lambda a: (a.name, a.id)))


async def _find(request: Request, alert_id: str) -> dict:
    raw = await _up(request).json("alertmanager", "/api/v2/alerts")
    found = next((a for a in raw if a["fingerprint"] == alert_id), None)
    if found is None:
        raise ApiError(404, "not_found", f"no active alert {alert_id}")
    return found


def _stamp(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@router.post("/alerts/{alert_id}/ack", response_model=Ack, status_code=201, dependencies=[Depends(require_write)],
             summary="Acknowledge: a silence matching exactly this alert's labels")
async def ack(request: Request, body: AckBody, alert_id: str = Path(..., pattern=FINGERPRINT)) -> Ack:
    alert = await _find(request, alert_id)
    now = datetime.now(timezone.utc)
    ends = now + timedelta(minutes=body.expires_in_minutes)
    silence = {
        "matchers": [{"name": k, "value": v, "isRegex": False, "isEqual": True} for k, v in sorted(alert["labels"].items())],
        "startsAt": _stamp(now), "endsAt": _stamp(ends), "createdBy": body.author, "comment": body.comment,
    }
    created = await _up(request).json("alertmanager", "/api/v2/silences", method="POST", json=silence)
    return Ack(alert_id=alert_id, silence_id=created["silenceID"], ends_at=_stamp(ends))


@router.delete("/alerts/{alert_id}/ack", response_model=Unack, dependencies=[Depends(require_write)],
               summary="Un-acknowledge: expire the silences that silence this alert")
async def unack(request: Request, alert_id: str = Path(..., pattern=FINGERPRINT)) -> Unack:
    alert = await _find(request, alert_id)
    expired = []
    for silence_id in alert["status"].get("silencedBy", []):
        await _up(request).request("alertmanager", "DELETE", f"/api/v2/silence/{silence_id}")
        expired.append(silence_id)
    return Unack(alert_id=alert_id, expired_silences=expired)


# --- Rules --------------------------------------------------------------------------------------

@router.get("/alerts/rules", response_model=RuleList, dependencies=[Depends(require_read)],
            summary="Every alerting rule Prometheus evaluates; user rules carry their id")
async def rules(request: Request) -> RuleList:
    data = await _up(request).prometheus("/api/v1/rules", {"type": "alert"})
    listed = []
    for group in data["groups"]:
        user = group["name"].startswith(GROUP_PREFIX)
        for rule in group["rules"]:
            listed.append(Rule(
                id=group["name"].removeprefix(GROUP_PREFIX) if user else None, name=rule["name"], group=group["name"],
                user=user, expr=rule["query"], for_seconds=rule.get("duration", 0), labels=rule.get("labels", {}),
                annotations=rule.get("annotations", {}), state=rule.get("state"), health=rule.get("health"),
            ))
    return RuleList(rules=listed)


async def _reload(request: Request) -> bool:
    url = request.app.state.config.prometheus_reload_url
    if not url:
        return False
    await _up(request).request("prometheus", "POST", url.removeprefix(_up(request).url("prometheus")))
    return True


async def _applied(request: Request, response: Response) -> dict:
    """How the change takes effect: Prometheus reloaded now (one Docker host), or - a ConfigMap on a
    cluster - 202 with how long until both replicas evaluate it (kubelet's refresh, then Prometheus'
    auto-reload on the rule files' checksum)."""
    seconds = request.app.state.rules.propagation_seconds
    if seconds is not None:
        response.status_code = 202
        return {"reloaded": False, "applied_within_seconds": seconds}
    return {"reloaded": await _reload(request), "applied_within_seconds": None}


ACCEPTED = {202: {"description": "On a cluster: written to the user rules ConfigMap; `applied_within_seconds` says "
                                 "how long until every Prometheus replica evaluates it"}}
YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml")
RULE_FILE_BODY = {
    "requestBody": {
        "required": True,
        "description": "A Prometheus rule-group file (`groups:` of `name` and `rules`), alerting rules only",
        "content": {kind: {"schema": {"type": "string"},
                           "example": "groups:\n  - name: checkout\n    rules:\n      - alert: CheckoutErrorsHigh\n"
                                      "        expr: sum(rate(http_requests_total{code=~\"5..\"}[5m])) > 1\n"
                                      "        for: 10m\n"} for kind in YAML_TYPES},
    },
}


@router.post("/alerts/rules", response_model=RuleWritten, status_code=201, dependencies=[Depends(require_write)],
             responses=ACCEPTED, summary="Create a user alert rule (checked as promtool checks it)")
async def create_rule(request: Request, response: Response, body: AlertRuleBody) -> RuleWritten:
    checked_by = await asyncio.to_thread(request.app.state.checker.check_body, body)
    await request.app.state.rules.change(store.create(body))
    return RuleWritten(id=body.name, checked_by=checked_by, **await _applied(request, response))


@router.put("/alerts/rules", response_model=RulesWritten, dependencies=[Depends(require_write)], responses=ACCEPTED,
            openapi_extra=RULE_FILE_BODY,
            summary="Create or replace user alert rules from a Prometheus rule-group file (YAML); `dry_run` checks only")
async def put_rule_file(request: Request, response: Response, dry_run: bool = Query(False)) -> RulesWritten:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in YAML_TYPES:
        raise ApiError(415, "unsupported_media_type", f"a rule file is sent as {YAML_TYPES[0]} (got {kind or 'nothing'})")
    raw = await request.body()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ApiError(422, "invalid_rule", f"body: not UTF-8 (byte {error.start})")
    rules, checked_by = await asyncio.to_thread(request.app.state.checker.check_file, text)
    ids = [rule.name for rule in rules]
    if dry_run:
        return RulesWritten(ids=ids, created=[], replaced=[], dry_run=True, checked_by=checked_by)
    created, replaced = await request.app.state.rules.change(store.upsert(rules))
    return RulesWritten(ids=ids, created=created, replaced=replaced, checked_by=checked_by,
                        **await _applied(request, response))


@router.put("/alerts/rules/{rule_id}", response_model=RuleWritten, dependencies=[Depends(require_write)],
            responses=ACCEPTED, summary="Replace a user alert rule")
async def update_rule(request: Request, response: Response, body: AlertRuleBody,
                      rule_id: str = Path(..., max_length=100)) -> RuleWritten:
    if body.name != rule_id:
        raise ApiError(422, "invalid_rule", f"name: {body.name!r} differs from the rule id {rule_id!r}")
    checked_by = await asyncio.to_thread(request.app.state.checker.check_body, body)
    await request.app.state.rules.change(store.replace(body))
    return RuleWritten(id=rule_id, checked_by=checked_by, **await _applied(request, response))


@router.delete("/alerts/rules/{rule_id}", response_model=RuleDeleted, dependencies=[Depends(require_write)],
               responses=ACCEPTED, summary="Delete a user alert rule")
async def delete_rule(request: Request, response: Response, rule_id: str = Path(..., max_length=100)) -> RuleDeleted:
    await request.app.state.rules.change(store.remove(rule_id))
    applied = await _applied(request, response)
    return RuleDeleted(id=rule_id, applied_within_seconds=applied["applied_within_seconds"])
