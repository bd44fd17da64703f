#!/usr/bin/env bash
# The main job on the embedded default: start the local Cloudflare emulator, provision the example inventory
# (examples/inventory: three hosts in three jurisdictions at three permission levels) onto local test hosts,
# run it again to show that a converged run changes nothing, then use a rendered profile with the real aws
# CLI: an allowed call succeeds and a forbidden one is denied. Nothing leaves 127.0.0.1.
#
#   scripts/demo.sh          the provisioning demo (needs root: the test hosts are unix users r2demo_*)
#   scripts/demo.sh tokens   the single-token lifecycle demo (playbook token_demo), no root needed
#
# The users and their files stay for a look around (e.g. cat /home/r2demo_web1/.aws/config); the emulator
# stops at the end, so the credentials in them stop working. Remove the users with
#   for u in r2demo_web1 r2demo_analytics1 r2demo_ops1; do userdel -r "$u"; done
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
MODE="${1:-provision}"
case "$MODE" in provision|tokens) ;; *) echo "usage: scripts/demo.sh [provision|tokens]" >&2; exit 2 ;; esac
if [ "$MODE" = provision ] && [ "$(id -u)" != 0 ]; then
    echo "demo: the provisioning demo creates unix users as test hosts: run it as root (or: scripts/demo.sh tokens)" >&2
    exit 1
fi

bash scripts/bootstrap.sh >&2
COLLECTIONS="$(bash scripts/stage.sh | tail -n1)"
export PATH="$REPO/.venv/bin:$PATH"
export ANSIBLE_COLLECTIONS_PATH="$COLLECTIONS" ANSIBLE_LOCALHOST_WARNING=False ANSIBLE_INVENTORY_UNPARSED_WARNING=False
CLIENTS="${R2_CLIENTS_VENV:-/opt/cloudflare-r2-test-clients}"

WORK="$(mktemp -d)"   # 0700: the emulator's info file holds its bootstrap token
EMU_PID=""
cleanup() { [ -n "$EMU_PID" ] && kill "$EMU_PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

PYTHONPATH="$REPO/tests/emulator" python -m cfemu --host 127.0.0.1 --port 0 \
    --info-file "$WORK/emulator.json" >/dev/null &
EMU_PID=$!
for _ in $(seq 1 150); do [ -s "$WORK/emulator.json" ] && break; sleep 0.1; done
[ -s "$WORK/emulator.json" ] || { echo "demo: the emulator did not start" >&2; exit 1; }

field() { python -c 'import json,sys; v=json.load(open(sys.argv[1]))[sys.argv[2]]; print(v if isinstance(v, str) else json.dumps(v))' "$WORK/emulator.json" "$1"; }
CLOUDFLARE_API_URL="$(field api_url)"
CLOUDFLARE_API_TOKEN="$(field bootstrap_token)"
CLOUDFLARE_ACCOUNT_ID="$(field account_id)"
R2_ENDPOINT_OVERRIDES="$(field s3_endpoints)"
ADMIN_URL="$(field admin_url)"
export CLOUDFLARE_API_URL CLOUDFLARE_API_TOKEN CLOUDFLARE_ACCOUNT_ID R2_ENDPOINT_OVERRIDES
echo "demo: Cloudflare API emulator at $CLOUDFLARE_API_URL (account $CLOUDFLARE_ACCOUNT_ID)" >&2

create_buckets() {  # NAME:JURISDICTION...
    python - "$ADMIN_URL" "$@" <<'PY'
import json, sys, urllib.request
for spec in sys.argv[2:]:
    name, jurisdiction = spec.split(':')
    request = urllib.request.Request(sys.argv[1] + '/buckets', method='POST', headers={'Content-Type': 'application/json'},
                                     data=json.dumps({'name': name, 'jurisdiction': jurisdiction}).encode())
    urllib.request.urlopen(request, timeout=30).read()
PY
}

if [ "$MODE" = tokens ]; then
    create_buckets demo-bucket:eu
    exec ansible-playbook -i localhost, -c local -e ansible_python_interpreter="$REPO/.venv/bin/python" \
        -e cloudflare_api_url="$CLOUDFLARE_API_URL" cloudflare_r2.credentials.token_demo
fi

# The example inventory's buckets, each in its jurisdiction, and its hosts: one unix user each.
create_buckets media-eu:eu logs:default audit-fed:fedramp
for user in r2demo_web1 r2demo_analytics1 r2demo_ops1; do
    id "$user" >/dev/null 2>&1 || useradd --create-home --shell /bin/sh "$user"
done

echo; echo "=== 1. provision the example inventory (examples/inventory) ==="
ansible-playbook -i examples/inventory cloudflare_r2.credentials.provision
echo; echo "=== 2. run it again: nothing to do, one API request ==="
ansible-playbook -i examples/inventory cloudflare_r2.credentials.provision | tee "$WORK/second.log" \
    | grep -E '"msg": "[0-9]+ host|^[a-z0-9]+ +: ok='
grep -q 'changed=[1-9]' "$WORK/second.log" && { echo "demo: the second run changed something" >&2; exit 1; }

echo; echo "=== 3. the real aws CLI with the rendered profiles ==="
as_user() {  # USER COMMAND: run as the user, with a login environment
    su - "$1" -s /bin/sh -c "$2"
}
echo "\$ (web1, profile media: Object Read & Write on the EU bucket media-eu) aws s3 cp - s3://media-eu/hello.txt"
as_user r2demo_web1 "echo hello from web1 | $CLIENTS/bin/aws --profile media s3 cp - s3://media-eu/hello.txt"
as_user r2demo_web1 "$CLIENTS/bin/aws --profile media s3 ls s3://media-eu/"
echo "\$ (analytics1, profile logs: Object Read only on logs) aws s3 cp - s3://logs/forbidden.txt"
if as_user r2demo_analytics1 "echo nope | $CLIENTS/bin/aws --profile logs s3 cp - s3://logs/forbidden.txt" 2>"$WORK/denied.txt"; then
    echo "demo: a read-only profile could write" >&2; exit 1
fi
grep -o 'AccessDenied[^.]*' "$WORK/denied.txt" | head -n1 | sed 's/^/denied, as it should be: /'
echo "\$ (ops1, profile audit: Admin Read only, FedRAMP endpoint) aws s3 ls"
as_user r2demo_ops1 "$CLIENTS/bin/aws --profile audit s3 ls"
echo
echo "demo: done. Files: /home/r2demo_web1/.aws/{config,credentials}, ~/.config/rclone/rclone.conf, ~/.s3cfg-logs ..."
