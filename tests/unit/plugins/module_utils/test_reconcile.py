# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The reconcile engine's pure plan: which steps a token needs, for r2_token (single) and r2_credential_set."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.cloudflare_r2.credentials.plugins.module_utils import _r2, _reconcile

ACCOUNT = '0123456789abcdef0123456789abcdef'
GROUP = 'Workers R2 Storage Bucket Item Write'


def raw(token_id, name='web1:media', status='active', groups=(GROUP,), **extra):
    token = {'id': token_id, 'name': name, 'status': status, 'issued_on': '2026-01-01T00:00:00Z',
             'policies': [{'effect': 'allow', 'permission_groups': [{'name': g} for g in groups],
                           'resources': {_r2.bucket_resource(ACCOUNT, 'eu', 'media'): '*'}}]}
    token.update(extra)
    return token


def entry(**options):
    base = {'name': 'web1:media', 'state': 'present', 'permission': 'object_read_write', 'buckets': ['media'],
            'jurisdiction': 'eu', 'ip_allow': None, 'ip_deny': None, 'expires_on': None, 'not_before': None,
            'rotate': False, 'held_access_key_id': None, 'fingerprint': '', 'held_fingerprint': None}
    base.update(options)
    return base


def plan(found, nexts=(), single=False, **options):
    e = entry(**options)
    spec = _r2.token_spec(e) if e['state'] == 'present' else None
    if single and spec is not None:
        spec['status'] = options.get('status', 'active')
    return _reconcile.plan_token(e, spec, list(found), list(nexts), ACCOUNT, 'account', 'tokens[0]', single=single)


A, B = 'a' * 32, 'b' * 32


@pytest.mark.parametrize('found, nexts, options, steps, action', [
    ([], [], {}, ['create'], 'created'),
    ([raw(A)], [], {'held_access_key_id': A}, [], 'unchanged'),
    ([raw(A)], [], {'held_access_key_id': B}, ['roll'], 'rolled'),
    ([raw(A)], [], {'held_access_key_id': A, 'rotate': True}, ['create_next'], 'rotation_started'),
    ([raw(A)], [raw(B, 'web1:media~next')], {'held_access_key_id': B}, ['delete', 'finish'], 'rotation_finished'),
    ([raw(A)], [raw(B, 'web1:media~next')], {'held_access_key_id': A}, ['delete_next'], 'rotation_abandoned'),
    ([raw(A, status='expired')], [], {'held_access_key_id': A}, ['delete', 'create'], 'reissued'),
    ([raw(A, status='revoked (exposed)')], [], {}, ['delete', 'create'], 'reissued'),
    ([raw(A, status='disabled')], [], {'held_access_key_id': A}, ['delete', 'create'], 'reissued'),
    ([raw(A, status='disabled')], [], {'held_access_key_id': A, 'rotate': True}, ['delete', 'create'], 'reissued'),
    ([raw(A)], [raw(B, 'web1:media~next', status='revoked (exposed)')], {'held_access_key_id': B},
     ['delete_next', 'roll'], 'rolled'),
    ([raw(A), raw(B)], [], {'held_access_key_id': B}, ['delete_duplicates'], 'deduplicated'),
    ([raw(A)], [raw(B, 'web1:media~next')], {'state': 'absent'}, ['delete_next', 'delete'], 'deleted'),
])
def test_plan_of_a_credential_set_entry(found, nexts, options, steps, action):
    got = plan(found, nexts, **options)
    assert (got['steps'], got['action']) == (steps, action)


def test_a_reissue_drops_the_past_expiry_unless_one_is_given():
    dead = raw(A, status='expired', expires_on='2026-02-01T00:00:00Z')
    assert plan([dead])['spec']['expires_on'] is None
    assert plan([dead], expires_on='2031-01-01T00:00:00Z')['spec']['expires_on'] == '2031-01-01T00:00:00Z'
    alive = raw(A, expires_on='2031-06-01T00:00:00Z')
    assert plan([alive], held_access_key_id=A)['spec']['expires_on'] == '2031-06-01T00:00:00Z'


@pytest.mark.parametrize('status, wanted, steps, action', [
    ('active', 'active', [], 'unchanged'),
    ('active', 'disabled', ['update'], 'updated'),
    ('disabled', 'active', ['update'], 'updated'),
    ('disabled', 'disabled', [], 'unchanged'),
    ('expired', 'active', ['delete', 'create'], 'reissued'),
    ('revoked (exposed)', 'active', ['delete', 'create'], 'reissued'),
    ('revoked (exposed)', 'disabled', [], 'unchanged'),
])
def test_plan_of_r2_token_and_its_status(status, wanted, steps, action):
    got = plan([raw(A, status=status)], single=True, status=wanted)
    assert (got['steps'], got['action']) == (steps, action)


def test_r2_token_refuses_duplicates_and_leaves_next_alone():
    with pytest.raises(_r2.DuplicateTokenError, match='2 tokens are named'):
        plan([raw(A), raw(B)], single=True)
    with pytest.raises(_r2.DuplicateTokenError):
        plan([raw(A), raw(B)], single=True, state='absent')
    assert plan([raw(A)], [raw(B, 'web1:media~next')], single=True)['steps'] == []


def test_an_admin_token_with_the_storage_group_alone_is_updated_in_place():
    account = {'com.cloudflare.api.account.%s' % ACCOUNT: '*'}
    old = raw(A, groups=('Workers R2 Storage Write',))
    old['policies'][0]['resources'] = account
    got = plan([old], held_access_key_id=A, permission='admin_read_write', buckets=[])
    assert (got['steps'], got['action']) == (['update'], 'updated')
    new = raw(A, groups=('Workers R2 Storage Write', 'Workers R2 Data Catalog Write'))
    new['policies'][0]['resources'] = account
    assert plan([new], held_access_key_id=A, permission='admin_read_write', buckets=[])['action'] == 'unchanged'
