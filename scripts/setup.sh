#!/usr/bin/env bash
# Set up everything the preview and the tests need on a fresh Debian machine:
# the OS tools (Prometheus and promtool, Alertmanager and amtool, the real exporters, PostgreSQL, Redis,
# openssl, nginx) and the pinned virtualenv.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages whose binaries the tests run for real. Installed only when one is missing. A
# path is checked as such: the tests run those binaries by that path, not from $PATH.
declare -A TOOLS=(
  [/usr/bin/promtool]=prometheus
  [/usr/bin/prometheus]=prometheus
  [/usr/bin/amtool]=prometheus-alertmanager
  [/usr/bin/prometheus-alertmanager]=prometheus-alertmanager
  [/usr/bin/prometheus-node-exporter]=prometheus-node-exporter
  [/usr/bin/prometheus-pushgateway]=prometheus-pushgateway
  [/usr/bin/prometheus-blackbox-exporter]=prometheus-blackbox-exporter
  [/usr/bin/prometheus-postgres-exporter]=prometheus-postgres-exporter
  [/usr/bin/prometheus-redis-exporter]=prometheus-redis-exporter
  [/usr/bin/redis-server]=redis-server
  # Certificates for the TLS tests.
  [openssl]=openssl
  # The read-only proxy in front of Prometheus, run with its rendered config (test_prometheus_proxy.py).
  [/usr/sbin/nginx]=nginx
  # A long-term store that accepts Prometheus remote write (the remote_write proof).
  [victoria-metrics]=victoria-metrics
  # Grafana's LDAP sign-in, proven against a real OpenLDAP (tests/security/test_ldap.py).
  [/usr/sbin/slapd]=slapd
  [/usr/bin/ldapsearch]=ldap-utils
  # Backups: storage, encryption, deduplication and retention (the backup/ program and its proof).
  [/usr/bin/restic]=restic
)
missing=()
for tool in "${!TOOLS[@]}"; do
  if [[ $tool == /* ]]; then
    [ -x "$tool" ] || missing+=("${TOOLS[$tool]}")
  else
    command -v "$tool" >/dev/null 2>&1 || missing+=("${TOOLS[$tool]}")
  fi
done
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
# Debian splits venv's pip bootstrap into python3-venv.
python3 -c "import ensurepip" >/dev/null 2>&1 || missing+=(python3-venv)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "setup: missing Debian packages: ${missing[*]} (run as root or: sudo apt-get install ${missing[*]})" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}" >&2
  apt-get update -qq
  # The packages' own services must not start here: tests start their own processes on free ports.
  created_policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && created_policy=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  if [ -n "$created_policy" ]; then rm -f /usr/sbin/policy-rc.d; fi
fi

# The pinned virtualenv (every transitive package pinned by constraints.txt), rebuilt when either changes.
if [ ! -x .venv/bin/python ] || [ requirements.txt -nt .venv/.installed ] || [ constraints.txt -nt .venv/.installed ]; then
  python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check -r requirements.txt -c constraints.txt
  touch .venv/.installed
fi

# The security scanner's own virtualenv (checkov pins dependencies the program does not share).
if [ ! -x .venv-scan/bin/checkov ] || [ requirements-scan.txt -nt .venv-scan/.installed ]; then
  python3 -m venv .venv-scan
  .venv-scan/bin/pip install -q --disable-pip-version-check -r requirements-scan.txt
  touch .venv-scan/.installed
fi
