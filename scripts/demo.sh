#!/usr/bin/env bash
# The main job on the embedded default: start the local Cloudflare emulator,
# then run the collection's token_demo playbook against it (create, update,
# rotate, delete; derived S3 credentials shown masked). Nothing leaves 127.0.0.1.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

bash scripts/bootstrap.sh >&2
COLLECTIONS="$(bash scripts/stage.sh | tail -n1)"
export PATH="$REPO/.venv/bin:$PATH"

WORK="$(mktemp -d)"   # 0700: the emulator's info file holds its bootstrap token
EMU_PID=""
cleanup() { [ -n "$EMU_PID" ] && kill "$EMU_PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

PYTHONPATH="$REPO/tests/emulator" python -m cfemu --host 127.0.0.1 --port 0 \
    --info-file "$WORK/emulator.json" >/dev/null &
EMU_PID=$!
for _ in $(seq 1 100); do [ -s "$WORK/emulator.json" ] && break; sleep 0.1; done
[ -s "$WORK/emulator.json" ] || { echo "demo: the emulator did not start" >&2; exit 1; }

field() { python -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$WORK/emulator.json" "$1"; }
API_URL="$(field api_url)"
CLOUDFLARE_API_TOKEN="$(field bootstrap_token)"
CLOUDFLARE_ACCOUNT_ID="$(field account_id)"
export CLOUDFLARE_API_TOKEN CLOUDFLARE_ACCOUNT_ID
echo "demo: Cloudflare API emulator at $API_URL (account $CLOUDFLARE_ACCOUNT_ID)" >&2
# The demo token is scoped to an EU bucket, which r2_token checks exists: create it in the emulator.
python - "$(field admin_url)" <<'PY'
import json, sys, urllib.request
request = urllib.request.Request(sys.argv[1] + '/buckets', method='POST', headers={'Content-Type': 'application/json'},
                                 data=json.dumps({'name': 'demo-bucket', 'jurisdiction': 'eu'}).encode())
urllib.request.urlopen(request, timeout=30).read()
PY

ANSIBLE_COLLECTIONS_PATH="$COLLECTIONS" ANSIBLE_LOCALHOST_WARNING=False ANSIBLE_INVENTORY_UNPARSED_WARNING=False \
    ansible-playbook -i localhost, -c local -e ansible_python_interpreter="$REPO/.venv/bin/python" \
    -e cloudflare_api_url="$API_URL" "$@" cloudflare_r2.credentials.token_demo
