#!/usr/bin/env bash
# Install everything the tests need, idempotently:
#   - missing system commands (apt-get, only when a command is absent)
#   - <repo>/.venv with requirements.txt + tests/requirements.txt
#   - the S3 clients venv (aws CLI + boto3, tests/requirements-clients.txt) OUTSIDE the clone,
#     world-readable, for the molecule scenarios that run the clients as unprivileged unix users
#     (a clone under /root, mode 0700, is not readable by them); built from the system
#     /usr/bin/python3, because the default python3 may live under /root too (pyenv)
#   - tests/tools/node_modules (npm ci: Stoplight Prism)
#   - the ansible-test offline pip bootstrap stand-in in ~/.ansible/test/cache/
# Stamp files keyed on a hash of the requirement files make a second run a no-op
# (pip and npm each redo their part only when their own inputs changed).
# Env: R2_FORCE_BOOTSTRAP=1 ignores the stamps.
#      R2_CLIENTS_VENV: the clients venv (default /opt/cloudflare-r2-test-clients; the
#      tests read the same variable, see tests/integration/harness/paths.py clients_venv()).
#      R2_CLIENTS_PYTHON: the interpreter it is made from (default /usr/bin/python3).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
VENV="$REPO/.venv"
TOOLS="$REPO/tests/tools"
CLIENTS_VENV="${R2_CLIENTS_VENV:-/opt/cloudflare-r2-test-clients}"
CLIENTS_PY="${R2_CLIENTS_PYTHON:-/usr/bin/python3}"
CLIENTS_REQ="tests/requirements-clients.txt"

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
    # No package may start a service (openssh-server would listen on every address, port 22): the tests
    # start their own daemons on loopback addresses only. policy-rc.d exit 101 = "action forbidden".
    local policy=/usr/sbin/policy-rc.d added=0 rc=0
    if [ ! -e "$policy" ] && [ -w /usr/sbin ]; then
        printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod 0755 "$policy" && added=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null || rc=$?
    [ "$added" = 1 ] && rm -f "$policy"
    return "$rc"
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
# The molecule scenarios: an sshd on a loopback address (started by the scenario itself, never
# as a service) and the ssh client the controller reaches it with.
need_cmd /usr/sbin/sshd openssh-server
need_cmd ssh openssh-client
# The interpreter of the clients venv: the system one, which every user may run.
need_cmd "$CLIENTS_PY" python3

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
CLIENTS_STAMP="$CLIENTS_VENV/.bootstrap-stamp"
NPM_STAMP="$TOOLS/node_modules/.bootstrap-stamp"
hash_of() {  # hash_of FUNCTION: sha256 of what FUNCTION prints
    { "$@" 2>/dev/null; } | sha256sum | cut -d' ' -f1
}
pip_inputs() {
    "$PY" -c 'import sys; print(sys.version)'
    for f in requirements.txt tests/requirements.txt scripts/bootstrap.sh; do echo "== $f"; cat "$f" 2>/dev/null; done
}
clients_inputs() {
    echo "$CLIENTS_VENV"
    "$CLIENTS_PY" -c 'import sys; print(sys.version)'
    echo "== $CLIENTS_REQ"; cat "$CLIENTS_REQ" 2>/dev/null
}
npm_inputs() {
    node --version
    for f in tests/tools/package.json tests/tools/package-lock.json; do echo "== $f"; cat "$f" 2>/dev/null; done
}
PIP_KEY="$(hash_of pip_inputs)"
NPM_KEY="$(hash_of npm_inputs)"
CLIENTS_KEY="$(hash_of clients_inputs)"
pip_ok() {
    [ "${R2_FORCE_BOOTSTRAP:-0}" != 1 ] && [ "$(cat "$PIP_STAMP" 2>/dev/null)" = "$PIP_KEY" ] \
        && [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c '' 2>/dev/null
}
clients_ok() {
    [ "${R2_FORCE_BOOTSTRAP:-0}" != 1 ] && [ "$(cat "$CLIENTS_STAMP" 2>/dev/null)" = "$CLIENTS_KEY" ] \
        && "$CLIENTS_VENV/bin/python" -c '' 2>/dev/null
}
npm_ok() {
    [ "${R2_FORCE_BOOTSTRAP:-0}" != 1 ] && [ "$(cat "$NPM_STAMP" 2>/dev/null)" = "$NPM_KEY" ] \
        && [ -x "$TOOLS/node_modules/.bin/prism" ]
}

if pip_ok && npm_ok && clients_ok; then
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

# --- S3 clients venv (outside the clone, readable by every user) -------------------
# Directories 0755, files 0644 (0755 when executable): the molecule scenarios run its aws CLI
# and python as unprivileged users. Its parent folders must be enterable by them too.
make_clients_venv() {  # (runs in a subshell, as the condition of an if: no set -e here)
    local dir
    umask 022
    if ! { [ -x "$CLIENTS_VENV/bin/python" ] && "$CLIENTS_VENV/bin/python" -c 'import sys' 2>/dev/null; }; then
        rm -rf "$CLIENTS_VENV"
        mkdir -p "$(dirname "$CLIENTS_VENV")" || return 1
        if ! "$CLIENTS_PY" -m venv "$CLIENTS_VENV" 2>/dev/null; then
            rm -rf "$CLIENTS_VENV"
            apt_install python3-venv || return 1
            "$CLIENTS_PY" -m venv "$CLIENTS_VENV" || return 1
        fi
        log "created $CLIENTS_VENV (from $CLIENTS_PY)"
    fi
    log "pip install -r $CLIENTS_REQ into $CLIENTS_VENV"
    PIP_DISABLE_PIP_VERSION_CHECK=1 "$CLIENTS_VENV/bin/python" -m pip install --quiet --progress-bar off \
        -r "$CLIENTS_REQ" 2> >(grep -v "^WARNING: Location 'file:.*' is ignored" >&2) || return 1
    chmod -R u+rwX,go+rX,go-w "$CLIENTS_VENV" || return 1
    dir="$CLIENTS_VENV"
    while [ "$dir" != / ]; do
        case "$(stat -c %A "$dir")" in
            *x|*t) ;;
            *) log "$dir is not enterable by other users: the clients venv must be world-readable (R2_CLIENTS_VENV)"
               return 1 ;;
        esac
        dir="$(dirname "$dir")"
    done
    if ! "$CLIENTS_VENV/bin/python" -c 'import awscli, boto3' || [ ! -x "$CLIENTS_VENV/bin/aws" ]; then
        log "awscli/boto3 missing in $CLIENTS_VENV after pip"; return 1
    fi
    echo "$CLIENTS_KEY" > "$CLIENTS_STAMP" && chmod 0644 "$CLIENTS_STAMP"
}
if ! clients_ok; then
    if ! (make_clients_venv); then
        # only the molecule scenarios need it, and they need root anyway
        [ "$(id -u)" = 0 ] && exit 1
        log "no clients venv at $CLIENTS_VENV (not root): the molecule scenarios cannot run"
    fi
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
