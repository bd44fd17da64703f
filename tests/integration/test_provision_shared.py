"""Fleets past Cloudflare's token quota: 30 hosts with a token each do not fit an account that may hold 20, and the
run says so before any write; the same 30 hosts in shared mode (one parent token, temporary credentials of their own
per host, each narrowed to its own prefix) need one token. The real aws CLI, as two of the hosts, shows each one
its own prefix and not the other's. Renewals mint again only what is inside its renew window.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess

from harness import paths
from test_provision import inventory, writes

HOSTS = ['h%02d' % n for n in range(1, 31)]
BUCKET = 'fleet-shared'
SHARED = {'media-writers': {'permission': 'object_read_write', 'buckets': [BUCKET]}}
MINT = ('POST', 'POST /accounts/{account_id}/r2/temp-access-credentials')
LISTING = ('GET', 'GET /accounts/{account_id}/tokens')
BUCKETS = ('GET', 'GET /accounts/{account_id}/r2/buckets')


def aws(tmp_path, host, *args):
    """The real aws CLI reading the files rendered for the host's user (profile media)."""
    home = tmp_path / 'render' / host / 'root'
    env = dict((k, v) for k, v in os.environ.items() if not k.startswith('AWS_'))
    env.update(AWS_CONFIG_FILE=str(home / '.aws' / 'config'),
               AWS_SHARED_CREDENTIALS_FILE=str(home / '.aws' / 'credentials'), AWS_PROFILE='media')
    done = subprocess.run([os.path.join(paths.venv_bin(), 'aws'), 's3api', *args], env=env, capture_output=True,
                          text=True, timeout=120, check=False)
    return done.returncode == 0, done.stderr[-400:]


def put(tmp_path, host, key):
    body = tmp_path / 'body.txt'
    body.write_text('hello from %s\n' % host)
    return aws(tmp_path, host, 'put-object', '--bucket', BUCKET, '--key', key, '--body', str(body))


def managed(cf):
    return sorted(t['name'] for t in cf.tokens() if t['owner'] == 'account' and t['name'].startswith('ansible:'))


def test_thirty_hosts_past_a_quota_of_twenty_fit_with_one_shared_token(cf, run_playbook, tmp_path):
    cf.create_bucket(BUCKET)
    cf.configure(token_quota_account=20)
    per_host = dict((h, {'provision_credentials': [{'name': 'media', 'permission': 'object_read_write',
                                                    'buckets': [BUCKET], 'check': False}]}) for h in HOSTS)
    cf.reset_stats()
    refused = run_playbook('provision_fleet', args=inventory(tmp_path, cf, per_host, provision_token_quota=20,
                                                             provision_token_quota_reserve=0))
    assert refused.rc != 0
    # one message, before any write: how many tokens, the quota, and how to fit
    assert 'token_quota: account %s: this run needs 30 tokens (0 now, 30 to create, 0 to delete) and the ' \
        'account may hold 20 (quota 20 minus token_quota_reserve 0)' % cf.account_id in refused.output
    assert 'shared: NAME on the credential' in refused.output
    assert writes(cf) == [] and managed(cf) == []

    # Shared mode: one parent token; each host's own temporary credentials, limited to its own prefix. Two hosts
    # renew inside their window at every run (renew_before just under the TTL), the others keep theirs.
    shared = {}
    for host in HOSTS:
        cred = {'name': 'media', 'shared': 'media-writers', 'bucket': BUCKET, 'prefixes': ['{host}/'],
                'check': host in ('h01', 'h02')}
        if host in ('h29', 'h30'):
            cred.update(ttl_seconds=3600, renew_before=3599)
        shared[host] = {'provision_credentials': [cred]}
    args = inventory(tmp_path, cf, shared, provision_shared_tokens=SHARED)
    cf.reset_stats()
    first = run_playbook('provision_fleet', args=args)
    assert first.rc == 0, first.output[-3000:]
    assert managed(cf) == ['ansible:shared/media-writers']
    assert writes(cf) == [('POST', 'POST /accounts/{account_id}/tokens')] + [MINT] * 30
    assert '"30 host(s): created 1, minted 30;' in first.output, first.output[-3000:]
    # the shared token's secret is written on no host: every host holds only its own temporary credentials
    values = [v for v in cf.issued_secrets() if v.startswith('cfat_')]
    assert len(values) == 1
    parent_forms = (values[0], hashlib.sha256(values[0].encode()).hexdigest())
    for host in HOSTS:
        for path in (tmp_path / 'render' / host).rglob('*'):
            if path.is_file():
                text = path.read_text()
                assert not any(form in text for form in parent_forms), path
        assert 'aws_session_token' in (tmp_path / 'render' / host / 'root' / '.aws' / 'credentials').read_text()

    # each host writes under its own prefix, and not under another host's
    assert put(tmp_path, 'h01', 'h01/report.txt') == (True, '')
    assert put(tmp_path, 'h02', 'h02/report.txt') == (True, '')
    denied, detail = put(tmp_path, 'h01', 'h02/report.txt')
    assert not denied and 'AccessDenied' in detail, detail
    denied, detail = put(tmp_path, 'h02', 'h01/report.txt')
    assert not denied and 'AccessDenied' in detail, detail

    cf.reset_stats()
    renewed = run_playbook('provision_fleet', args=args)
    assert renewed.rc == 0, renewed.output[-3000:]
    requests = [(r['method'], r['route']) for r in cf.stats()['requests']]
    # ceil(T/50) = 1 token listing, and for the two hosts inside their renew window one bucket check and a mint
    # each; the 28 others keep what they hold (a converged run in shared mode: test_provision_accounts.py)
    assert requests == [LISTING, BUCKETS, MINT, MINT], json.dumps(requests)
    assert '"30 host(s): kept 28, minted 2, unchanged 1;' in renewed.output, renewed.output[-3000:]
    # (h01 runs the reconcile, whose change its recap counts)
    assert renewed.recap['h29']['changed'] > 0 and renewed.recap['h03']['changed'] == 0

    # With the shared token's key (from a vault, here from the emulator's record of what it issued), the renewals
    # are signed on the controller: no mint request at all, and the host's aws CLI uses them as before.
    signed = args + ['-e', json.dumps({'provision_shared_signing_keys': {'media-writers': parent_forms[1]}})]
    cf.reset_stats()
    local = run_playbook('provision_fleet', args=signed)
    assert local.rc == 0, local.output[-3000:]
    requests = [(r['method'], r['route']) for r in cf.stats()['requests']]
    assert requests == [LISTING, BUCKETS], json.dumps(requests)
    assert '"30 host(s): kept 28, minted 2, unchanged 1;' in local.output, local.output[-3000:]
    assert put(tmp_path, 'h29', 'h29/report.txt') == (True, '')
    denied, detail = put(tmp_path, 'h29', 'h30/report.txt')
    assert not denied and 'AccessDenied' in detail, detail
    assert parent_forms[1] not in local.output
