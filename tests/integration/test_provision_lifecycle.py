"""A credential through its life with the provision playbook: a token that died (disabled, expired, revoked as
exposed) is reissued by the next ordinary run, and a rotation schedule rotates exactly the tokens that are due.

Each host's files are read by the real aws CLI, as the host's programs would, before and after.
"""

from __future__ import annotations

import datetime
import json

from test_provision import inventory, writes
from test_provision_faults import aws_lists

CRED = {'name': 'media', 'permission': 'object_read_only', 'buckets': ['fleet-ok']}


def managed(cf):
    return dict((t['name'], t) for t in cf.tokens() if t['owner'] == 'account' and t['name'].startswith('ansible:'))


def test_a_dead_token_of_each_kind_is_reissued_by_the_next_run_and_the_host_works_again(cf, run_playbook, tmp_path):
    cf.create_bucket('fleet-ok')
    hosts = {'off': {}, 'lapsed': {}, 'leaked': {}}
    for host in hosts:
        hosts[host]['provision_credentials'] = [CRED]
    args = inventory(tmp_path, cf, hosts)
    first = run_playbook('provision_fleet', args=args)
    assert first.rc == 0, first.output[-3000:]
    before = managed(cf)
    # What happens to tokens out there: someone disables one, one passes its expiry, Cloudflare revokes one whose
    # value was found in a public repository.
    cf.patch_token(before['ansible:off/media']['id'], status='disabled')
    cf.expire_token(before['ansible:lapsed/media']['id'])
    cf.revoke_token(before['ansible:leaked/media']['id'])
    statuses = dict((name, t['status']) for name, t in managed(cf).items())
    assert statuses == {'ansible:off/media': 'disabled', 'ansible:lapsed/media': 'expired',
                        'ansible:leaked/media': 'revoked (exposed)'}
    for host in hosts:
        works, detail = aws_lists(tmp_path, host)
        assert not works, (host, 'a dead token still works on S3', detail)

    predicted = run_playbook('provision_fleet', args=args, check=True)
    assert predicted.rc == 0, predicted.output[-3000:]
    assert '"3 host(s): reissued 3;' in predicted.output, predicted.output[-3000:]
    cf.reset_stats()
    again = run_playbook('provision_fleet', args=args)
    assert again.rc == 0, again.output[-3000:]
    assert '"3 host(s): reissued 3;' in again.output, again.output[-3000:]
    assert sorted(writes(cf)) == sorted([('DELETE', 'DELETE /accounts/{account_id}/tokens/{token_id}')] * 3 +
                                        [('POST', 'POST /accounts/{account_id}/tokens')] * 3), writes(cf)
    after = managed(cf)
    assert sorted(after) == sorted(before)
    for name, token in after.items():
        assert token['status'] == 'active' and token['id'] != before[name]['id'], (name, token)
    for host in hosts:
        works, detail = aws_lists(tmp_path, host)
        assert works, (host, detail)
    converged = run_playbook('provision_fleet', args=args)
    assert converged.rc == 0 and converged.changed == 0, converged.output[-3000:]


def test_rotate_after_rotates_exactly_the_due_tokens_in_the_ordinary_run(cf, run_playbook, tmp_path):
    cf.create_bucket('fleet-ok')
    hosts = dict((host, {'provision_credentials': [CRED]}) for host in ('web1', 'web2', 'web3'))
    # a schedule a test can meet: rotate what is older than an hour; web3's credential rotates after a day
    hosts['web3']['provision_credentials'] = [dict(CRED, rotate_after='1d')]
    args = inventory(tmp_path, cf, hosts, provision_rotate_after=3600)
    first = run_playbook('provision_fleet', args=args)
    assert first.rc == 0, first.output[-3000:]
    assert 'next rotation due on' in first.output
    before = managed(cf)
    # web1 and web3 got their secrets two hours ago: web1 is due (1h), web3 is not (1d)
    two_hours_ago = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=2)).strftime(
        '%Y-%m-%dT%H:%M:%SZ')
    for host in ('web1', 'web3'):
        cf.patch_token(before['ansible:%s/media' % host]['id'], issued_on=two_hours_ago, modified_on=two_hours_ago)

    cf.reset_stats()
    predicted = run_playbook('provision_fleet', args=args, check=True)
    assert predicted.rc == 0, predicted.output[-3000:]
    assert 'rotation due for 1 token(s): ansible:web1/media' in predicted.output, predicted.output[-3000:]
    assert writes(cf) == [] and managed(cf) == dict((n, dict(t, issued_on=two_hours_ago, modified_on=two_hours_ago)
                                                    if n != 'ansible:web2/media' else t) for n, t in before.items())

    rotated = run_playbook('provision_fleet', args=args)
    assert rotated.rc == 0, rotated.output[-3000:]
    assert 'rotation due for 1 token(s): ansible:web1/media' in rotated.output
    after = managed(cf)
    # finished in the same run: one token per credential, web1's is new, the others are the same tokens
    assert sorted(after) == sorted(before)
    assert after['ansible:web1/media']['id'] != before['ansible:web1/media']['id']
    for host in ('web2', 'web3'):
        assert after['ansible:%s/media' % host]['id'] == before['ansible:%s/media' % host]['id']
    for host in hosts:
        works, detail = aws_lists(tmp_path, host)
        assert works, (host, detail)

    cf.reset_stats()
    converged = run_playbook('provision_fleet', args=args)
    assert converged.rc == 0 and converged.changed == 0, converged.output[-3000:]
    requests = [(r['method'], r['route']) for r in cf.stats()['requests']]
    # a converged run with a schedule costs what any converged run costs: one listing (T < 50)
    assert requests == [('GET', 'GET /accounts/{account_id}/tokens')], json.dumps(requests)
