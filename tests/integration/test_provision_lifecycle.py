"""A credential through its life with the provision playbook: a token that died (disabled, expired, revoked as
exposed) is reissued by the next ordinary run, and a rotation schedule rotates exactly the tokens that are due,
started and finished in that same run.

Each host's files are read by the real aws CLI, as the host's programs would, before and after.
"""

from __future__ import annotations

import datetime
import json

from test_provision import inventory, writes
from test_provision_faults import aws_lists

CRED = {'name': 'media', 'permission': 'object_read_only', 'buckets': ['fleet-ok']}
DEAD = ('off', 'lapsed', 'leaked')


def managed(cf):
    return dict((t['name'], t) for t in cf.tokens() if t['owner'] == 'account' and t['name'].startswith('ansible:'))


def test_dead_tokens_are_reissued_and_due_tokens_rotated_by_the_ordinary_run(cf, run_playbook, tmp_path):
    cf.create_bucket('fleet-ok')
    hosts = dict((host, {'provision_credentials': [CRED]}) for host in DEAD + ('web1', 'web2'))
    # a schedule a test can meet: rotate what is older than an hour; web2's credential rotates after a day
    hosts['web2']['provision_credentials'] = [dict(CRED, rotate_after='1d')]
    args = inventory(tmp_path, cf, hosts, provision_rotate_after=3600)
    first = run_playbook('provision_fleet', args=args)
    assert first.rc == 0, first.output[-3000:]
    assert 'next rotation due on' in first.output
    before = managed(cf)

    # What happens to tokens out there: someone disables one, one passes its expiry, Cloudflare revokes one whose
    # value was found in a public repository. And time passes: web1's and web2's secrets are two hours old.
    cf.patch_token(before['ansible:off/media']['id'], status='disabled')
    cf.expire_token(before['ansible:lapsed/media']['id'])
    cf.revoke_token(before['ansible:leaked/media']['id'])
    two_hours_ago = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=2)).strftime(
        '%Y-%m-%dT%H:%M:%SZ')
    for host in ('web1', 'web2'):
        cf.patch_token(before['ansible:%s/media' % host]['id'], issued_on=two_hours_ago, modified_on=two_hours_ago)
    aged = managed(cf)
    assert dict((host, aged['ansible:%s/media' % host]['status']) for host in DEAD) == {
        'off': 'disabled', 'lapsed': 'expired', 'leaked': 'revoked (exposed)'}
    for host in DEAD:
        works, detail = aws_lists(tmp_path, host)
        assert not works, (host, 'a dead token still works on S3', detail)

    cf.reset_stats()
    predicted = run_playbook('provision_fleet', args=args, check=True)
    assert predicted.rc == 0, predicted.output[-3000:]
    line = '"5 host(s): reissued 3, rotation_started 1, unchanged 1;'
    assert line in predicted.output, predicted.output[-3000:]
    assert 'rotation due for 1 token(s): ansible:web1/media' in predicted.output
    assert writes(cf) == [] and managed(cf) == aged

    again = run_playbook('provision_fleet', args=args)
    assert again.rc == 0, again.output[-3000:]
    assert line in again.output and 'rotation due for 1 token(s): ansible:web1/media' in again.output
    # the provision playbook's last play finished web1's rotation in the same run
    assert '"1 host(s): rotation_finished 1;' in again.output, again.output[-3000:]
    after = managed(cf)
    assert sorted(after) == sorted(before)   # one token per credential
    for host in DEAD + ('web1',):
        token = after['ansible:%s/media' % host]
        assert token['status'] == 'active' and token['id'] != before['ansible:%s/media' % host]['id'], (host, token)
    assert after['ansible:web2/media']['id'] == before['ansible:web2/media']['id']
    for host in hosts:
        works, detail = aws_lists(tmp_path, host)
        assert works, (host, detail)

    cf.reset_stats()
    converged = run_playbook('provision_fleet', args=args)
    assert converged.rc == 0 and converged.changed == 0, converged.output[-3000:]
    requests = [(r['method'], r['route']) for r in cf.stats()['requests']]
    # a converged run with a schedule costs what any converged run costs: one listing (T < 50)
    assert requests == [('GET', 'GET /accounts/{account_id}/tokens')], json.dumps(requests)
