"""Dashboards (Grafana HTTP API). The API creates, changes and deletes dashboards in its own folder
only; provisioned dashboards and other folders are read-only here."""

from __future__ import annotations

import re
import secrets

from fastapi import APIRouter, Depends, Path, Query, Request

from api.auth import require_read, require_write
from api.errors import ApiError
from api.models import Dashboard, DashboardBody, DashboardList, DashboardWritten, Deleted

router = APIRouter(prefix="/monitoring")
UID = r"^[a-zA-Z0-9_-]{1,40}$"


def _grafana(request: Request):
    return request.app.state.upstreams


def _headers(request: Request) -> dict[str, str]:
    token = request.app.state.grafana_token
    return {"Authorization": f"Bearer {token}"} if token else {}


@router.get("/dashboards", response_model=DashboardList, dependencies=[Depends(require_read)],
            summary="Every dashboard; those in this API's folder are editable")
async def dashboards(request: Request, query: str = Query("", max_length=200),
                     limit: int = Query(500, ge=1, le=5000)) -> DashboardList:
    found = await _grafana(request).json("grafana", "/api/search", params={"type": "dash-db", "query": query, "limit": limit},
                                         headers=_headers(request))
    folder = request.app.state.config.grafana_folder_uid
    return DashboardList(dashboards=[
        Dashboard(uid=d["uid"], title=d["title"], url=d["url"], folder_uid=d.get("folderUid"), tags=d.get("tags", []),
                  editable=d.get("folderUid") == folder)
        for d in found
    ])


async def _ensure_folder(request: Request) -> str:
    folder = request.app.state.config.grafana_folder_uid
    upstreams = _grafana(request)
    response = await upstreams.client.get(f"{upstreams.url('grafana')}/api/folders/{folder}", headers=_headers(request),
                                          timeout=upstreams.config.timeout("grafana"))
    if response.status_code == 404:
        await upstreams.json("grafana", "/api/folders", method="POST", json={"uid": folder, "title": "Monitoring API"},
                             headers=_headers(request))
    elif response.status_code >= 400:
        raise ApiError(502, "upstream_error", f"grafana answered HTTP {response.status_code}", "grafana")
    return folder


async def _owned(request: Request, uid: str) -> dict:
    """The dashboard, if this API may change it (in its folder, not provisioned)."""
    found = await _grafana(request).json("grafana", f"/api/dashboards/uid/{uid}", headers=_headers(request),
                                         not_found=f"no dashboard {uid}")
    meta = found.get("meta", {})
    if meta.get("provisioned") or meta.get("folderUid") != request.app.state.config.grafana_folder_uid:
        raise ApiError(403, "forbidden", f"dashboard {uid} is not in this API's folder (provisioned dashboards are read-only)")
    return found


def _model(body: DashboardBody, uid: str, version: int | None = None) -> dict:
    model = {"uid": uid, "title": body.title, "tags": body.tags, "panels": body.panels, "schemaVersion": 39}
    if version is not None:
        model["version"] = version
    return model


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:24] or "dashboard"


@router.post("/dashboards", response_model=DashboardWritten, status_code=201, dependencies=[Depends(require_write)],
             summary="Create a dashboard in this API's folder")
async def create_dashboard(request: Request, body: DashboardBody) -> DashboardWritten:
    folder = await _ensure_folder(request)
    uid = f"{_slug(body.title)}-{secrets.token_hex(4)}"
    saved = await _grafana(request).json("grafana", "/api/dashboards/db", method="POST", headers=_headers(request),
                                         json={"dashboard": {**_model(body, uid), "id": None}, "folderUid": folder,
                                               "overwrite": False, "message": "created through the monitoring API"})
    return DashboardWritten(uid=saved["uid"], url=saved["url"], version=saved["version"])


@router.put("/dashboards/{uid}", response_model=DashboardWritten, dependencies=[Depends(require_write)],
            summary="Replace a dashboard this API created")
async def update_dashboard(request: Request, body: DashboardBody, uid: str = Path(..., pattern=UID)) -> DashboardWritten:
    current = await _owned(request, uid)
    saved = await _grafana(request).json(
        "grafana", "/api/dashboards/db", method="POST", headers=_headers(request),
        json={"dashboard": {**_model(body, uid, current["dashboard"].get("version")), "id": current["dashboard"].get("id")},
              "folderUid": request.app.state.config.grafana_folder_uid, "overwrite": False,
              "message": "updated through the monitoring API"})
    return DashboardWritten(uid=saved["uid"], url=saved["url"], version=saved["version"])


@router.delete("/dashboards/{uid}", response_model=Deleted, dependencies=[Depends(require_write)],
               summary="Delete a dashboard this API created")
async def delete_dashboard(request: Request, uid: str = Path(..., pattern=UID)) -> Deleted:
    await _owned(request, uid)
    await _grafana(request).request("grafana", "DELETE", f"/api/dashboards/uid/{uid}", headers=_headers(request))
    return Deleted(id=uid)
