#!/usr/bin/env bash
# Set-up shared by `make demo` and `make test`: the Debian packages mosquitto, influxdb,
# chromium, chromium-driver and poppler-utils (only when missing; the report tests read the
# PDFs back with pdftotext/pdftoppm; the console's browser tests drive Debian's
# headless Chromium, nothing ever downloads a browser) and the project's virtualenv.
# Idempotent; safe to run every time.
set -euo pipefail
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}

need_apt=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need_apt+=(mosquitto)
command -v influxd >/dev/null 2>&1 || [ -x /usr/bin/influxd ] || need_apt+=(influxdb)
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
[ -x /usr/bin/chromedriver ] || need_apt+=(chromium-driver)
command -v pdftotext >/dev/null 2>&1 || need_apt+=(poppler-utils)
"$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1 || need_apt+=(python3-venv)

if [ ${#need_apt[@]} -gt 0 ]; then
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "quantrac: missing ${need_apt[*]} and apt-get is not available; install them with your system's package manager and run again" >&2
    exit 1
  fi
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "quantrac: need root or sudo to install ${need_apt[*]}" >&2; exit 1; }
    SUDO=sudo
  fi
  echo "quantrac: installing Debian packages: ${need_apt[*]}"
  $SUDO apt-get update -q
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need_apt[@]}"
fi

stamp="$VENV/.installed"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "quantrac: preparing virtualenv $VENV"
  [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q -e '.[dev]'
  touch "$stamp"
fi
