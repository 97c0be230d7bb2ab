# Sourced by scripts/demo and scripts/test: set up .venv once, with one progress line; pip's own output is
# shown only when it fails.
setup_venv() {
  local ready=$1
  if eval "$ready" 2>/dev/null; then
    return 0
  fi
  echo "lookout: setting up .venv (once, about a minute) …" >&2
  local log
  log=$(mktemp)
  if ! { python3 -m venv .venv &&
         .venv/bin/pip install --quiet --disable-pip-version-check --upgrade pip &&
         .venv/bin/pip install --quiet --disable-pip-version-check -e '.[dev]'; } >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    echo "lookout: setting up .venv failed (pip's output above)" >&2
    exit 1
  fi
  rm -f "$log"
}

# Debian's prometheus for the metrics tests, as .ci/run installs it, when it is missing and we may install
# (root, or sudo without a password); otherwise those tests skip and say why.
install_prometheus_if_missing() {
  command -v prometheus >/dev/null 2>&1 && return 0
  command -v apt-get >/dev/null 2>&1 || return 0
  local sudo=""
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo -n"; else return 0; fi
  fi
  echo "lookout: installing Debian's prometheus for the metrics tests …" >&2
  local log
  log=$(mktemp)
  if ! { $sudo apt-get update -qq && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus; } \
      >"$log" 2>&1; then
    cat "$log" >&2
    echo "lookout: could not install prometheus (output above); the metrics tests will skip" >&2
  fi
  rm -f "$log"
}
