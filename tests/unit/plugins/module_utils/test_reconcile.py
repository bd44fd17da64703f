# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The reconcile engine: its pure plan (which steps a token needs, for r2_token and r2_credential_set), and what a
user meets through the modules with dead tokens, r2_token's status, the rotation schedule and open jurisdictions.
The module cases run against the in-memory fake of the token API (tests/unit/utils/fake_cloudflare.py), whose
token create, like Cloudflare's documented create body (iam_create_payload), takes no status."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

import pytest

from ansible_collections.cloudflare_r2.credentials.plugins.module_utils import _r2, _reconcile
from ansible_collections.cloudflare_r2.credentials.plugins.module_utils import _client_files
from ansible_collections.cloudflare_r2.credentials.plugins.modules import r2_credential_set, r2_token
from ansible_collections.cloudflare_r2.credentials.tests.unit.utils import fake_cloudflare
from ansible_collections.cloudflare_r2.credentials.tests.unit.utils.fake_cloudflare import envelope
from ansible_collections.cloudflare_r2.credentials.tests.unit.plugins.modules.test_r2_credential_set import (  # pylint: disable=unused-import
    age,
    converge,
    held,
    no_settle_wait,
    tokens,
)
from ansible_collections.cloudflare_r2.credentials.tests.unit.plugins.modules.test_r2_token import (  # pylint: disable=unused-import
    OBJ,
    fake,
    ok,
    run,
)

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


# -- through the modules (found in review) -----------------------------------------------------------------

def now():
    return datetime.datetime.now(datetime.timezone.utc)


def stamp(when):
    return when.strftime('%Y-%m-%dT%H:%M:%SZ')


def outcome_of(module, **args):
    """The module's exit, or a test failure naming the exception that escaped main() (a traceback for the user)."""
    try:
        return run(module, **args)
    except Exception as exc:  # pylint: disable=broad-except
        pytest.fail('uncaught %s escaped main(): %s' % (type(exc).__name__, exc), pytrace=False)


# -- r2_token status ---------------------------------------------------------------------------------------------

def test_r2_token_status_disabled_creates_a_disabled_token(fake):
    """The docs promise 'A new token is created with this status'; Cloudflare's create body has no status."""
    result = ok(r2_token, status='disabled', **OBJ)
    token = fake.tokens[result['access_key_id']]
    assert result['token']['status'] == 'disabled', 'r2_token reports the new token as %r' % result['token']['status']
    assert token['status'] == 'disabled', 'the token made is %r, so its secret works at once' % token['status']


def test_r2_token_reissue_reads_the_permission_groups_before_it_deletes_the_dead_token(fake, monkeypatch):
    """Every read before the first write: a group lookup that fails must not leave the name without a token."""
    groups = fake._enrich([{'effect': 'allow', 'permission_groups': [
        {'id': fake_cloudflare.GROUPS['Workers R2 Storage Write']},
        {'id': fake_cloudflare.GROUPS['Workers R2 Data Catalog Write']}],
        'resources': {'com.cloudflare.api.account.%s' % ACCOUNT: '*'}}])
    dead = fake.add_token('admin-writer', policies=groups, status='revoked (exposed)')
    # Cloudflare answers the lookup of one group with no group (renamed, or not offered to this account)
    monkeypatch.delitem(fake_cloudflare.GROUPS, 'Workers R2 Data Catalog Write')
    outcome = run(r2_token, name='admin-writer', permission='admin_read_write')
    assert outcome.failed and 'permission groups' in outcome.result['msg']
    assert [c[0] for c in fake.writes] == [], 'writes before the failing read: %s' % [
        (c[0], c[1]) for c in fake.writes]
    assert dead['id'] in fake.tokens


# -- the rotation schedule ---------------------------------------------------------------------------------------

def test_expire_after_without_a_holder_a_scheduled_roll_renews_the_expiry(fake):
    """A token nobody holds is rotated by a roll in place; with expire_after it must still outlive the next
    scheduled rotation (the documented promise: every token is rotated before it expires)."""
    entries = [dict(e, fingerprint=None) for e in tokens('web1', rotate_after='30d', expire_after='45d')]
    first = converge(fake, entries)
    token_id = first['credentials']['web1:media']['access_key_id']
    # 31 days later: due, and (made with expire_after 45d) 14 days left
    age(fake, token_id, 31)
    fake.tokens[token_id]['expires_on'] = stamp(now() + datetime.timedelta(days=14))
    rolled = converge(fake, entries)
    assert rolled['credentials']['web1:media']['action'] == 'rolled'
    # the roll made a new secret: the next scheduled rotation is 30 days away
    expires = _r2.parse_time(fake.tokens[token_id]['expires_on'], 'expires_on')
    assert expires > now() + datetime.timedelta(days=30), (
        'the rolled token still expires on %s, before its next scheduled rotation in 30 days: it dies in between'
        % stamp(expires))


@pytest.mark.parametrize('extra, existing', [
    (dict(rotate_after='999999999w'), True),
    (dict(rotate_after='3000000d'), True),
    (dict(rotate_after='1d', expire_after='999999999d'), False),
], ids=['rotate_after-weeks', 'rotate_after-past-year-9999', 'expire_after-on-create'])
def test_a_huge_duration_is_one_clear_error_not_a_traceback(fake, extra, existing):
    if existing:
        converge(fake, tokens('web1'))
    start = len(fake.writes)
    outcome = outcome_of(r2_credential_set, tokens=tokens('web1', **extra))
    field = 'expire_after' if 'expire_after' in extra else 'rotate_after'
    assert outcome.failed and field in outcome.result['msg']
    assert len(fake.writes) == start


def test_schedule_next_due_on_counts_the_tokens_this_run_made(fake):
    """After the first run the next rotation falls due rotate_after from now, not never."""
    first = converge(fake, tokens('web1', rotate_after='90d'))
    assert first['schedule']['next_due_on'] is not None, 'schedule %r after creating a token with rotate_after' % (
        first['schedule'],)
    in_days = (_r2.parse_time(first['schedule']['next_due_on'], 'x') - now()).total_seconds() / 86400
    assert 89.9 < in_days < 90.1


def test_schedule_due_lists_only_rotations_and_a_reissued_token_is_due_from_its_new_secret(fake):
    """schedule.due is 'the tokens whose scheduled rotation this run started'; a dead token past its rotate_after is
    reissued, not rotated, and its successor is due rotate_after from now."""
    entries = tokens('web1', rotate_after='30d')
    first = converge(fake, entries)
    dead_id = first['credentials']['web1:media']['access_key_id']
    age(fake, dead_id, 40)
    fake.tokens[dead_id]['status'] = 'expired'
    again = converge(fake, held(entries, first))
    got = again['credentials']['web1:media']
    assert got['action'] == 'reissued'
    assert again['schedule']['due'] == [], again['schedule']
    in_days = (_r2.parse_time(got['rotate_due_on'], 'x') - now()).total_seconds() / 86400
    assert 29.9 < in_days < 30.1, got['rotate_due_on']


def test_the_renaming_put_that_finishes_a_rotation_checks_changed_buckets(fake):
    """A finish applies the entry's spec (SPEC_STEPS), buckets included: a missing bucket fails before any write,
    as it does for a create or an update."""
    entries = tokens('web1')
    first = converge(fake, entries)
    started = converge(fake, [dict(e, rotate=True) for e in held(entries, first)])
    start = len(fake.writes)
    outcome = run(r2_credential_set, tokens=[dict(e, buckets=['no-such-bucket'])
                                             for e in held(entries, started)])
    assert outcome.failed and 'no-such-bucket' in outcome.result['msg'], outcome.result.get('credentials')
    assert len(fake.writes) == start


# -- jurisdictions -----------------------------------------------------------------------------------------------

def test_r2_token_shows_the_unknown_jurisdiction_warning_when_cloudflare_refuses_the_write(fake):
    """The warning is the user's hint that the jurisdiction may be a typo: a failed run must show it too."""
    fake.script.append(('POST', r'/tokens$', envelope(None, 400, errors=[
        {'code': 1001, 'message': 'invalid resource'}])))
    params = dict(OBJ)
    params.update(jurisdiction='euu', check_buckets=False)
    outcome = run(r2_token, **params)
    assert outcome.failed
    assert any("'euu'" in w for w in outcome.result.get('warnings') or []), outcome.result.get('warnings')


def test_r2_credential_set_shows_the_unknown_jurisdiction_warning_when_an_entry_fails(fake):
    fake.script.append(('POST', r'/tokens$', envelope(None, 400, errors=[
        {'code': 1001, 'message': 'invalid resource'}])))
    outcome = run(r2_credential_set, tokens=tokens('web1', jurisdiction='euu'), check_buckets=False)
    assert outcome.failed and outcome.result['failures']
    assert any("'euu'" in w for w in outcome.result.get('warnings') or []), outcome.result.get('warnings')


def test_client_files_take_every_jurisdiction_the_token_modules_take():
    """One rule for a jurisdiction name: r2_client_files (and the client_config role) must render the endpoint of
    any jurisdiction r2_token accepts, and refuse what it refuses."""
    for name in ('us', 'eu2', 'apac1'):
        assert _r2.validate_jurisdiction(name) == name
        dummy, errors = _client_files.normalize_profiles([dict(
            name='media', access_key_id='a' * 32, secret_access_key='b' * 64, account_id=ACCOUNT, jurisdiction=name,
            permission='object_read_write')])
        assert errors == [], '%s: %s' % (name, errors)
    _r2.take_warnings()
    for name in ('x',):
        with pytest.raises(_r2.R2ValueError):
            _r2.validate_jurisdiction(name)
        dummy, errors = _client_files.normalize_profiles([dict(
            name='media', access_key_id='a' * 32, secret_access_key='b' * 64, account_id=ACCOUNT, jurisdiction=name,
            permission='object_read_write')])
        assert errors, '%s accepted by r2_client_files, refused by r2_token' % name


def test_an_unknown_jurisdiction_refused_by_the_bucket_check_names_the_entry(fake):
    """In a fleet of entries, the one with the typo must be named (as every other bucket-check message does)."""
    outcome = run(r2_credential_set, tokens=tokens('web1') + tokens('web2', jurisdiction='euu'))
    assert outcome.failed and "'euu'" in outcome.result['msg']
    assert 'tokens[1] (host web2' in outcome.result['msg'], outcome.result['msg']
    assert fake.writes == []
