#!/usr/bin/env bash
# Install everything the tests need, idempotently:
#   - missing system commands (apt-get, only when a command is absent)
#   - <repo>/.venv with requirements.txt + tests/requirements.txt
#   - tests/tools/node_modules (npm ci: Stoplight Prism)
#   - the ansible-test offline pip bootstrap stand-in in ~/.ansible/test/cache/
# Stamp files keyed on a hash of the requirement files make a second run a no-op
# (pip and npm each redo their part only when their own inputs changed).
# Env: R2_FORCE_BOOTSTRAP=1 ignores the stamp.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
VENV="$REPO/.venv"
TOOLS="$REPO/tests/tools"

log() { echo "bootstrap: $*" >&2; }

# --- runtime requirements file (owned by the collection; created only if missing)
if [ ! -f requirements.txt ]; then
    printf 'requests>=2.28\njmespath>=1.0\n' > requirements.txt
    log "created requirements.txt"
fi

# --- system commands --------------------------------------------------------
APT_UPDATED=0
apt_install() {
    if ! command -v apt-get >/dev/null 2>&1; then
        log "missing $* and no apt-get: install it by hand"; return 1
    fi
    if [ "$APT_UPDATED" = 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get update -qq; APT_UPDATED=1
    fi
    log "apt-get install $*"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
need_cmd() {  # need_cmd COMMAND [DEBIAN_PACKAGE...]
    local cmd="$1"; shift
    command -v "$cmd" >/dev/null 2>&1 || apt_install "${@:-$cmd}"
}
need_cmd python3
need_cmd git
need_cmd node nodejs
need_cmd npm npm
# optional: ansible-test sanity skips its shellcheck test (with a warning) without it
need_cmd shellcheck || log "shellcheck unavailable: sanity will skip its shellcheck test"
# Real S3 clients for the end-to-end tests (the aws CLI and boto3 come from pip).
need_cmd rclone
need_cmd s3cmd

PY="$(command -v python3)"

# --- the ansible-test pip bootstrap stand-in (cheap; always refreshed) ------
write_pip_standin() {
    local req_file version=""
    for req_file in "$VENV"/lib/python3*/site-packages/ansible_test/_internal/python_requirements.py; do break; done
    if [ -f "$req_file" ]; then
        version="$(sed -n "s/^[[:space:]]*pip='\([0-9][0-9.]*\)',*.*/\1/p" "$req_file" | head -n1)"
    fi
    : "${version:=24.2}"
    local dest="$HOME/.ansible/test/cache/get_pip_${version//./_}.py"
    mkdir -p "$(dirname "$dest")"
    if ! cmp -s "$REPO/scripts/get_pip_standin.py" "$dest" 2>/dev/null; then
        cp "$REPO/scripts/get_pip_standin.py" "$dest"
        log "wrote ansible-test pip $version bootstrap stand-in: $dest"
    fi
}

# --- stamps (one per installer, keyed on a hash of its inputs) ---------------
PIP_STAMP="$VENV/.bootstrap-stamp"
NPM_STAMP="$TOOLS/node_modules/.bootstrap-stamp"
hash_of() {  # hash_of FUNCTION: sha256 of what FUNCTION prints
    { "$@" 2>/dev/null; } | sha256sum | cut -d' ' -f1
}
pip_inputs() {
    "$PY" -c 'import sys; print(sys.version)'
    for f in requirements.txt tests/requirements.txt scripts/bootstrap.sh; do echo "== $f"; cat "$f" 2>/dev/null; done
}
npm_inputs() {
    node --version
    for f in tests/tools/package.json tests/tools/package-lock.json; do echo "== $f"; cat "$f" 2>/dev/null; done
}
PIP_KEY="$(hash_of pip_inputs)"
NPM_KEY="$(hash_of npm_inputs)"
pip_ok() {
    [ "${R2_FORCE_BOOTSTRAP:-0}" != 1 ] && [ "$(cat "$PIP_STAMP" 2>/dev/null)" = "$PIP_KEY" ] \
        && [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c '' 2>/dev/null
}
npm_ok() {
    [ "${R2_FORCE_BOOTSTRAP:-0}" != 1 ] && [ "$(cat "$NPM_STAMP" 2>/dev/null)" = "$NPM_KEY" ] \
        && [ -x "$TOOLS/node_modules/.bin/prism" ]
}

if pip_ok && npm_ok; then
    write_pip_standin
    log "up to date ($VENV)"
    exit 0
fi

START=$SECONDS

# --- Python venv ----------------------------------------------------------------
if ! pip_ok; then
    if ! { [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c 'import sys' 2>/dev/null; }; then
        rm -rf "$VENV"
        if ! "$PY" -m venv "$VENV" 2>/dev/null; then
            rm -rf "$VENV"
            apt_install python3-venv
            "$PY" -m venv "$VENV"
        fi
        log "created $VENV"
    fi
    export PIP_DISABLE_PIP_VERSION_CHECK=1
    log "pip install -r requirements.txt -r tests/requirements.txt"
    # (the machine's pip config may name local indexes that do not exist: hide that noise)
    "$VENV/bin/python" -m pip install --quiet --progress-bar off -r requirements.txt -r tests/requirements.txt \
        2> >(grep -v "^WARNING: Location 'file:.*' is ignored" >&2)
    echo "$PIP_KEY" > "$PIP_STAMP"
fi

# --- Node tools (Prism) -----------------------------------------------------------
if ! npm_ok; then
    log "npm ci in tests/tools"
    if [ -f "$TOOLS/package-lock.json" ]; then
        (cd "$TOOLS" && npm ci --no-audit --no-fund --loglevel=error)
    else
        (cd "$TOOLS" && npm install --no-audit --no-fund --loglevel=error)
    fi
    [ -x "$TOOLS/node_modules/.bin/prism" ] || { log "prism missing after npm ci"; exit 1; }
    echo "$NPM_KEY" > "$NPM_STAMP"
fi

write_pip_standin

log "done in $((SECONDS - START))s"
