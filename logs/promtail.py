"""Promtail: the Docker host's container logs shipped to Loki with container and service labels."""

from __future__ import annotations

from typing import Any

from services.topology import Endpoints
from settings.model import StackSettings

POSITIONS_DIR = "/var/lib/promtail"
DOCKER_SOCKET = "/var/run/docker.sock"


def render_promtail_config(settings: StackSettings, endpoints: Endpoints, port: int) -> dict[str, Any]:
    return {
        "server": {"http_listen_port": port, "grpc_listen_port": 0, "log_level": "info"},
        "positions": {"filename": f"{POSITIONS_DIR}/positions.yaml"},
        "clients": [
            {
                "url": f"{endpoints['loki'].url}/loki/api/v1/push",
                "external_labels": {"env": settings.environment},
            }
        ],
        "scrape_configs": [
            {
                "job_name": "docker",
                "docker_sd_configs": [{"host": f"unix://{DOCKER_SOCKET}", "refresh_interval": "15s"}],
                "relabel_configs": [
                    {"source_labels": ["__meta_docker_container_name"], "regex": "/(.*)", "target_label": "container"},
                    # Our own containers carry a `monitoring.service` label; compose projects their service name.
                    {
                        "source_labels": [
                            "__meta_docker_container_label_monitoring_service",
                            "__meta_docker_container_label_com_docker_compose_service",
                        ],
                        "separator": "",
                        "regex": "(.+)",
                        "target_label": "service",
                    },
                    {"source_labels": ["__meta_docker_container_log_stream"], "target_label": "stream"},
                ],
            }
        ],
    }
