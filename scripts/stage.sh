#!/usr/bin/env bash
# Stage the collection into ${R2_BUILD_DIR:-<repo>/.build}/ansible_collections/<ns>/<name>
# (a real copy: ansible-test refuses symlinks) and print the collections root,
# i.e. the folder that contains ansible_collections/ (use it as PYTHONPATH or
# ANSIBLE_COLLECTIONS_PATH).
#
# Files staged: `git ls-files -co --exclude-standard` (so uncommitted work is
# included) minus CI/dev tooling (see EXCLUDE_PREFIXES in scripts/stage.py).
# Files that disappeared from the repo are deleted from the stage (rsync --delete).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${R2_BUILD_DIR:-$REPO/.build}"
mkdir -p "$BUILD_DIR"
BUILD_DIR="$(cd "$BUILD_DIR" && pwd)"

galaxy_field() { sed -n "s/^$1:[[:space:]]*['\"]\{0,1\}\([A-Za-z0-9_]*\).*/\1/p" "$REPO/galaxy.yml" | head -n1; }
NAMESPACE="$(galaxy_field namespace)"
NAME="$(galaxy_field name)"
: "${NAMESPACE:=cloudflare_r2}" "${NAME:=credentials}"

DEST="$BUILD_DIR/ansible_collections/$NAMESPACE/$NAME"
PY="$(command -v python3 || command -v python)"
# one stager at a time (pytest workers, a parallel test.sh, ...)
exec 9>"$BUILD_DIR/.stage.lock"
flock 9 2>/dev/null || true
"$PY" "$REPO/scripts/stage.py" "$REPO" "$DEST"

# When the stage lives inside the repo (the default .build/), ansible-test
# walks up, finds the repo's .git and asks git for the files under the stage,
# which is git-ignored: it would see no files at all.  A .git of the stage's
# own (never committed to) makes ansible-test list exactly the staged files.
if [ ! -e "$DEST/.git" ]; then
    git init -q "$DEST" >/dev/null 2>&1 || true
fi

echo "$BUILD_DIR"
