#!/usr/bin/env bash
# The project's single test command.
#
#   scripts/test.sh [--fail-fast] [STEP...]
#
# Runs scripts/bootstrap.sh and scripts/stage.sh, then the steps (default: all,
# in this order):
#   sanity       ansible-test sanity --venv in the staged collection
#   lint         ansible-lint --profile production + antsibull-changelog lint
#   units        pytest tests/unit (PYTHONPATH = staged collections root)
#   integration  pytest tests/integration (emulator + Prism contract harness)
#   molecule     pytest extensions/molecule/*/run_scenario.py, one scenario at a time (real
#                unix users and an sshd on 127.0.0.2; needs root, else skipped), from
#                tests/integration so that its harness and fixtures are found
#   build        ansible-galaxy collection build + install into an empty path,
#                then tests/integration/playbooks/installed_smoke.yml through the harness
# Every step runs even if an earlier one failed, unless --fail-fast. With both sanity and lint, lint runs in
# the background during sanity (its output is shown at its turn).
# Exit status: 0 if every step passed.
#
# Env: R2_BUILD_DIR (stage location), R2_OPENAPI_SPEC (contract spec),
#      R2_PYTEST_WORKERS (xdist workers, default 2; 0 = no xdist),
#      R2_SANITY_ARGS (extra ansible-test sanity arguments),
#      R2_CLIENTS_VENV (world-readable S3 clients venv, default /opt/cloudflare-r2-test-clients).
set -uo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO" || exit 1
ALL_STEPS=(sanity lint units integration molecule build)
FAIL_FAST=0
STEPS=()
for arg in "$@"; do
    case "$arg" in
        --fail-fast) FAIL_FAST=1 ;;
        -h|--help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "unknown option: $arg" >&2; exit 2 ;;
        *)
            if [[ " ${ALL_STEPS[*]} " != *" $arg "* ]]; then
                echo "unknown step: $arg (steps: ${ALL_STEPS[*]})" >&2; exit 2
            fi
            STEPS+=("$arg") ;;
    esac
done
[ ${#STEPS[@]} -eq 0 ] && STEPS=("${ALL_STEPS[@]}")

VENV="$REPO/.venv"
LOG_DIR="$REPO/tests/output/test-logs"
WORKERS="${R2_PYTEST_WORKERS:-2}"
export PYTHONDONTWRITEBYTECODE=1
export ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0 PY_COLORS=0 NO_COLOR=1

now() { echo "${EPOCHREALTIME/,/.}"; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

NAMES=(); RESULTS=(); TIMES=()
record() { NAMES+=("$1"); RESULTS+=("$2"); TIMES+=("$3"); }

print_summary() {
    local i passed=0 failed=0 skipped=0
    echo
    echo "==================================== summary ===================================="
    printf '%-12s %-8s %9s\n' step result seconds
    for i in "${!NAMES[@]}"; do
        printf '%-12s %-8s %9s\n' "${NAMES[$i]}" "${RESULTS[$i]}" "${TIMES[$i]}"
        case "${RESULTS[$i]}" in PASS) passed=$((passed + 1)) ;; FAIL) failed=$((failed + 1)) ;; *) skipped=$((skipped + 1)) ;; esac
    done
    printf '%-12s %-8s %9s\n' total "" "$(elapsed "$T_ALL" "$(now)")"
    echo "=================================================================================="
    if [ "$skipped" -gt 0 ]; then
        echo "steps: $passed passed, $failed failed, $skipped skipped"
    else
        echo "steps: $passed passed, $failed failed"
    fi
    [ "$failed" -eq 0 ]
}

# run_step NAME FUNCTION: header, timing, log under tests/output/test-logs/
run_step() {
    local name="$1" fn="$2" t0 rc
    echo
    echo "=================================== $name ==================================="
    t0="$(now)"
    mkdir -p "$LOG_DIR"
    "$fn" 2>&1 | tee "$LOG_DIR/$name.log"
    rc=${PIPESTATUS[0]}
    local secs; secs="$(elapsed "$t0" "$(now)")"
    if [ "$rc" -eq 0 ]; then
        record "$name" PASS "$secs"; echo "--- $name: PASS (${secs}s)"
    elif [ "$rc" -eq 99 ]; then
        record "$name" SKIP "$secs"; echo "--- $name: SKIP (${secs}s)"
        rc=0
    else
        record "$name" FAIL "$secs"; echo "--- $name: FAIL rc=$rc (${secs}s)"
    fi
    return "$rc"
}

# ------------------------------------------------------------------ steps
step_bootstrap() { bash "$REPO/scripts/bootstrap.sh"; }

step_stage() {
    local out
    out="$(bash "$REPO/scripts/stage.sh")" || return 1
    echo "$out"
    echo "${out##*$'\n'}" > "$LOG_DIR/.collections_root"
}

has_tests() { [ -n "$(find "$1" -name 'test_*.py' -o -name '*_test.py' 2>/dev/null | head -n1)" ]; }

pytest_args() {
    local args=(-p no:cacheprovider -ra --timeout=900)
    if [ "$WORKERS" != 0 ]; then args+=(-n "$WORKERS"); fi
    printf '%s\n' "${args[@]}"
}

step_sanity() {
    local pyver
    pyver="$("$VENV/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
    cd "$COLLECTION_DIR" || return 1
    # shellcheck disable=SC2086
    # (the machine's pip config may name local indexes that do not exist: hide that noise)
    ansible-test sanity --venv --python "$pyver" --color no ${R2_SANITY_ARGS:-} 2>&1 \
        | { grep --line-buffered -v "^WARNING: Location 'file:.*' is ignored" || true; }
}

step_lint() {
    local rc=0
    ANSIBLE_COLLECTIONS_PATH="$COLLECTIONS_ROOT" ansible-lint --profile production --nocolor || rc=1
    echo "antsibull-changelog lint"
    antsibull-changelog lint || rc=1
    return "$rc"
}

step_units() {
    if ! has_tests tests/unit; then echo "no unit tests in tests/unit"; return 99; fi
    mapfile -t args < <(pytest_args)
    PYTHONPATH="$COLLECTIONS_ROOT${PYTHONPATH:+:$PYTHONPATH}" python -m pytest tests/unit "${args[@]}"
}

step_integration() {
    if ! has_tests tests/integration; then echo "no integration tests in tests/integration"; return 99; fi
    mapfile -t args < <(pytest_args)
    # the slowest tests are listed: CI's 25-minute budget is mostly theirs
    R2_COLLECTIONS_PATH="$COLLECTIONS_ROOT" python -m pytest tests/integration "${args[@]}" --durations=15
}

step_molecule() {
    local runner runners=() rc
    for runner in "$REPO"/extensions/molecule/*/run_scenario.py; do
        [ -f "$runner" ] && runners+=("$runner")
    done
    if [ ${#runners[@]} -eq 0 ]; then echo "no extensions/molecule/*/run_scenario.py"; return 99; fi
    # From tests/integration: `harness` is importable and `-p conftest` loads its fixtures
    # (collections_path). importlib import mode: every scenario's runner is named run_scenario.py.
    # No xdist: the scenarios share the machine's users and sshd (harness.molecule also holds a
    # machine-wide lock). pytest's timeout is only a backstop: harness.molecule.run has its own
    # (up to 900 s waiting for the lock + 900 s of molecule + 300 s of destroy after a timeout).
    (cd "$REPO/tests/integration" && \
        R2_COLLECTIONS_PATH="$COLLECTIONS_ROOT" python -m pytest -p conftest --import-mode=importlib \
            -p no:cacheprovider -ra --timeout=2400 -v "${runners[@]}")
    rc=$?
    [ "$rc" -eq 5 ] && { echo "no molecule scenario collected"; return 99; }
    return "$rc"
}

step_build() {
    local tmp tarball rc=0 bad
    tmp="$(mktemp -d "${TMPDIR:-/tmp}/r2-build.XXXXXX")"
    # shellcheck disable=SC2064
    trap "rm -rf '$tmp'" RETURN
    ansible-galaxy collection build "$COLLECTION_DIR" --output-path "$tmp/dist" || return 1
    for tarball in "$tmp"/dist/*.tar.gz; do break; done
    echo "built $(basename "$tarball") ($(du -h "$tarball" | cut -f1))"
    # nothing from the dev/test machinery may leak into the artifact
    bad="$(tar -tzf "$tarball" | grep -E '(^|/)(\.venv|\.build|\.git|\.ci|\.cache|\.ansible|collections|node_modules|__pycache__|\.pytest_cache)(/|$)|^tests/output/|\.pyc$' || true)"
    if [ -n "$bad" ]; then
        echo "tarball contains files that must be build_ignore'd in galaxy.yml:"; echo "$bad" | head -20; rc=1
    fi
    ansible-galaxy collection install --offline "$tarball" -p "$tmp/collections" || return 1
    local smoke="$REPO/tests/integration/playbooks/installed_smoke.yml"
    if [ ! -f "$smoke" ]; then
        echo "missing $smoke"; return 1
    fi
    (cd "$REPO/tests/integration" && \
        R2_COLLECTIONS_PATH="$tmp/collections" ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=False \
        python -m harness.run_playbook "$smoke") || rc=1
    return "$rc"
}

# ------------------------------------------------------------------ main
T_ALL="$(now)"
mkdir -p "$LOG_DIR"
run_step bootstrap step_bootstrap || { print_summary; exit 1; }
export PATH="$VENV/bin:$PATH" VIRTUAL_ENV="$VENV"
run_step stage step_stage || { print_summary; exit 1; }
COLLECTIONS_ROOT="$(cat "$LOG_DIR/.collections_root")"
for COLLECTION_DIR in "$COLLECTIONS_ROOT"/ansible_collections/*/*; do break; done
export R2_COLLECTIONS_PATH="$COLLECTIONS_ROOT"

# lint alongside sanity when both run: each is mostly one process, and the machine has two cores. Its output is
# kept in a file and shown, with its own duration, when the lint step's turn comes.
LINT_PID=""
if [[ " ${STEPS[*]} " == *" sanity "* && " ${STEPS[*]} " == *" lint "* ]]; then
    rm -f "$LOG_DIR/lint-background.rc"
    ( t0="$(now)"; step_lint > "$LOG_DIR/lint-background.log" 2>&1; rc=$?
      echo "(lint ran alongside sanity: $(elapsed "$t0" "$(now)")s)" >> "$LOG_DIR/lint-background.log"
      echo "$rc" > "$LOG_DIR/lint-background.rc" ) &
    LINT_PID=$!
fi
# run_step runs a step in a pipeline (a subshell), which cannot wait for the background job: it watches for the
# exit status the job writes last.
step_lint_background() {
    while [ ! -s "$LOG_DIR/lint-background.rc" ]; do
        kill -0 "$LINT_PID" 2>/dev/null || { sleep 1; [ -s "$LOG_DIR/lint-background.rc" ] || return 1; }
        sleep 1
    done
    cat "$LOG_DIR/lint-background.log"
    return "$(cat "$LOG_DIR/lint-background.rc")"
}

for step in "${STEPS[@]}"; do
    fn="step_$step"
    if [ "$step" = lint ] && [ -n "$LINT_PID" ]; then fn=step_lint_background; fi
    if ! run_step "$step" "$fn" && [ "$FAIL_FAST" = 1 ]; then
        echo "--fail-fast: stopping after $step"
        break
    fi
done
print_summary
