# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""r2_credential_set against the in-memory fake of the token API: budget, holders, rotation, bad input."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import datetime
import hashlib
import hmac
import json

import pytest
import requests

from ansible_collections.cloudflare_r2.credentials.plugins.module_utils import _r2, _reconcile
from ansible_collections.cloudflare_r2.credentials.plugins.modules import r2_credential_set
from ansible_collections.cloudflare_r2.credentials.tests.unit.utils.fake_cloudflare import GROUPS, envelope
from ansible_collections.cloudflare_r2.credentials.tests.unit.utils.hostile_text import HOSTILE, HOSTILE_IDS
from ansible_collections.cloudflare_r2.credentials.tests.unit.plugins.modules.test_r2_token import (  # pylint: disable=unused-import
    ACCOUNT,
    fake,
    run,
)


@pytest.fixture(autouse=True)
def no_settle_wait(monkeypatch):
    """The wait for a concurrent run's twin (one second of issued_on) is real time; the fake has no rival."""
    monkeypatch.setattr(_reconcile, 'SETTLE_SECONDS', 0)


def tokens(*hosts, **extra):
    out = []
    for host in hosts:
        entry = {'name': '%s:media' % host, 'label': 'host %s, credential media' % host,
                 'permission': 'object_read_write', 'buckets': ['backups'], 'jurisdiction': 'eu', 'fingerprint': 'f1'}
        entry.update(extra)
        out.append(entry)
    return out


def converge(fake_cf, entries, temporary=None, **args):
    outcome = run(r2_credential_set, tokens=entries, temporary=temporary or [], **args)
    assert not outcome.failed, outcome.result['msg']
    return outcome.result


def held(entries, result, **overrides):
    """What a holder that rendered ``result`` reports on the next run."""
    out = []
    for entry in entries:
        got = result['credentials'][entry['name']]
        entry = dict(entry, held_access_key_id=got['access_key_id'], held_fingerprint=got['fingerprint'])
        entry.update(overrides.get(entry['name'], {}))
        entry.pop('rotate', None)
        out.append(entry)
    return out


def json_of(response):
    return response.json()


def calls(fake_cf, since=0):
    return [(m, p) for m, p, unused, unused2 in fake_cf.calls[since:]]


def test_first_run_one_write_per_credential_then_converged_run_lists_once(fake):
    entries = tokens('web1', 'web2', 'db1')
    temporary = [{'name': 'web1:upload', 'parent': 'web1:media', 'bucket': 'backups', 'jurisdiction': 'eu',
                  'permission': 'object_read_write', 'prefixes': ['in/'], 'ttl_seconds': 3600}]
    first = converge(fake, entries, temporary)
    assert first['changed'] is True
    assert [c[0] for c in fake.writes] == ['POST', 'POST', 'POST', 'POST']
    assert first['summary'] == {'created': 3, 'minted': 1}
    for entry in entries:
        got = first['credentials'][entry['name']]
        assert got['new_material'] and len(got['secret_access_key']) == 64
    temp = first['credentials']['web1:upload']
    assert fake.temp_credentials[0]['parentAccessKeyId'] == first['credentials']['web1:media']['access_key_id']
    assert temp['session_token'] and temp['expiration'] and temp['fingerprint']

    start = len(fake.calls)
    holder = dict(temporary[0], held_access_key_id=temp['access_key_id'], held_fingerprint=temp['fingerprint'],
                  held_expiration=temp['expiration'])
    again = converge(fake, held(entries, first), [holder])
    assert again['changed'] is False
    assert calls(fake, start) == [('GET', '/accounts/%s/tokens' % fake.account_id)]
    assert again['api_requests'] == {'GET': 1, 'total': 1}
    text = json.dumps(again)
    assert 'secret_access_key' not in text and 'session_token' not in text


def test_converged_run_costs_one_request_per_page_of_fifty(fake):
    for index in range(120):
        fake.add_token('other-%03d' % index)
    entries = tokens(*['h%03d' % i for i in range(30)])
    first = converge(fake, entries)
    start = len(fake.calls)
    converge(fake, held(entries, first))
    assert calls(fake, start) == [('GET', '/accounts/%s/tokens' % fake.account_id)] * 3


def test_holder_that_lost_its_files_gets_the_token_rolled_and_only_that_one(fake):
    entries = tokens('web1', 'web2')
    temporary = [{'name': 'web2:upload', 'parent': 'web2:media', 'bucket': 'backups', 'jurisdiction': 'eu'}]
    first = converge(fake, entries, temporary)
    temp = first['credentials']['web2:upload']
    temp_held = dict(temporary[0], held_access_key_id=temp['access_key_id'], held_fingerprint=temp['fingerprint'],
                     held_expiration=temp['expiration'])
    start = len(fake.writes)
    again = converge(fake, held(entries, first, **{'web2:media': {'held_access_key_id': ''}}), [temp_held])
    assert again['credentials']['web1:media']['action'] == 'unchanged'
    assert 'secret_access_key' not in again['credentials']['web1:media']
    web2 = again['credentials']['web2:media']
    assert web2['action'] == 'rolled' and web2['access_key_id'] == first['credentials']['web2:media']['access_key_id']
    assert web2['secret_access_key'] != first['credentials']['web2:media']['secret_access_key']
    # the rolled parent's children are dead: minted again
    assert again['credentials']['web2:upload']['action'] == 'minted'
    assert [(m, p.rsplit('/', 1)[-1]) for m, p, u, u2 in fake.writes[start:]] == [
        ('PUT', 'value'), ('POST', 'temp-access-credentials')]


def test_changed_fingerprint_rolls_changed_policy_updates_in_place(fake):
    entries = tokens('web1')
    first = converge(fake, entries)
    narrower = held(entries, first)
    narrower[0]['permission'] = 'object_read_only'
    result = converge(fake, narrower)
    assert result['credentials']['web1:media']['action'] == 'updated'
    assert 'secret_access_key' not in result['credentials']['web1:media']
    moved = held(entries, first)
    moved[0]['fingerprint'] = 'f2'
    result = converge(fake, moved)
    assert result['credentials']['web1:media']['action'] == 'rolled'
    assert result['credentials']['web1:media']['fingerprint'] == 'f2'


def test_rotation_creates_next_keeps_old_then_finishes_when_the_holder_has_it(fake):
    entries = tokens('web1')
    temporary = [{'name': 'web1:upload', 'parent': 'web1:media', 'bucket': 'backups', 'jurisdiction': 'eu'}]
    first = converge(fake, entries, temporary)
    old_id = first['credentials']['web1:media']['access_key_id']
    rotating = held(entries, first)
    rotating[0]['rotate'] = True
    started = converge(fake, rotating, temporary)
    got = started['credentials']['web1:media']
    assert got['action'] == 'rotation_started' and got['access_key_id'] != old_id and got['secret_access_key']
    names = sorted(t['name'] for t in fake.tokens.values())
    assert names == ['web1:media', 'web1:media~next']
    assert fake.temp_credentials[-1]['parentAccessKeyId'] == got['access_key_id']
    temp = started['credentials']['web1:upload']

    holder = dict(temporary[0], held_access_key_id=temp['access_key_id'], held_fingerprint=temp['fingerprint'],
                  held_expiration=temp['expiration'])
    finished = converge(fake, held(entries, started), [holder])
    assert finished['credentials']['web1:media']['action'] == 'rotation_finished'
    assert finished['credentials']['web1:upload']['action'] == 'kept'
    assert [(t['id'], t['name']) for t in fake.tokens.values()] == [(got['access_key_id'], 'web1:media')]
    assert 'secret_access_key' not in finished['credentials']['web1:media']


def test_interrupted_rotation_is_abandoned_when_the_holder_kept_the_old_token(fake):
    entries = tokens('web1')
    first = converge(fake, entries)
    rotating = held(entries, first)
    rotating[0]['rotate'] = True
    converge(fake, rotating)
    healed = converge(fake, held(entries, first))
    assert healed['credentials']['web1:media']['action'] == 'rotation_abandoned'
    assert [t['name'] for t in fake.tokens.values()] == ['web1:media']
    assert healed['changed'] is True  # the ~next token was deleted


def test_absent_deletes_the_token_and_a_pending_next(fake):
    entries = tokens('web1', 'web2')
    first = converge(fake, entries)
    rotating = held(entries, first)
    rotating[0]['rotate'] = True
    converge(fake, rotating)
    gone = converge(fake, [{'name': 'web1:media', 'state': 'absent'}, {'name': 'web2:media', 'state': 'absent'}])
    assert gone['summary'] == {'deleted': 2} and not fake.tokens
    again = converge(fake, [{'name': 'web1:media', 'state': 'absent'}])
    assert again['changed'] is False and again['summary'] == {'absent': 1}


def test_temporary_credentials_renewed_only_inside_the_window(fake):
    group = 'Workers R2 Storage Write'
    fake.add_token('api', owner='user', policies=fake._enrich(_r2.build_policies(
        fake.account_id, 'admin_read_write', None, [GROUPS[group]])))
    api_value = [t for t in fake.tokens.values() if t['name'] == 'api'][0]['_value']
    entry = {'name': 'web1:read', 'bucket': 'backups', 'jurisdiction': 'eu', 'ttl_seconds': 3600,
             'renew_before': 600, 'fingerprint': 'f1'}
    first = run(r2_credential_set, api_token=api_value, temporary=[entry]).result
    got = first['credentials']['web1:read']
    assert got['action'] == 'minted'
    assert fake.temp_credentials[-1]['parentAccessKeyId'] == [t for t in fake.tokens.values() if t['name'] == 'api'][0]['id']
    holder = dict(entry, held_access_key_id=got['access_key_id'], held_fingerprint=got['fingerprint'],
                  held_expiration=got['expiration'])
    start = len(fake.calls)
    kept = run(r2_credential_set, api_token=api_value, temporary=[holder]).result
    assert kept['credentials']['web1:read']['action'] == 'kept' and not fake.calls[start:]
    soon = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=300)).strftime('%Y-%m-%dT%H:%M:%SZ')
    renewed = run(r2_credential_set, api_token=api_value, temporary=[dict(holder, held_expiration=soon)]).result
    assert renewed['credentials']['web1:read']['action'] == 'minted'
    rescoped = run(r2_credential_set, api_token=api_value, temporary=[dict(holder, prefixes=['logs/'])]).result
    assert rescoped['credentials']['web1:read']['action'] == 'minted'


def test_bad_input_names_the_entry_and_field_and_sends_nothing(fake):
    entries = tokens('web1', 'web2')
    entries[1]['buckets'] = ['Bad_Bucket']
    outcome = run(r2_credential_set, tokens=entries)
    assert outcome.failed and not fake.calls
    assert outcome.result['msg'].startswith("tokens[1] (host web2, credential media): buckets[0]: invalid bucket name")
    duplicate = run(r2_credential_set, tokens=tokens('web1') + tokens('web1'))
    assert duplicate.failed and "name: 'web1:media' is used by another entry" in duplicate.result['msg']
    ttl = run(r2_credential_set, temporary=[{'name': 't', 'label': 'host x', 'bucket': 'backups', 'ttl_seconds': 0}])
    assert ttl.failed and ttl.result['msg'].startswith('temporary[0] (host x): ttl_seconds must be an integer from 1')
    parent = run(r2_credential_set, temporary=[{'name': 't', 'bucket': 'backups', 'parent': 'nope'}])
    assert parent.failed and "parent: 'nope' is not a token of this run" in parent.result['msg']
    assert not fake.calls


def test_missing_bucket_fails_before_any_write(fake):
    entries = tokens('web1', 'web2')
    entries[1]['buckets'] = ['not-there']
    outcome = run(r2_credential_set, tokens=entries)
    assert outcome.failed and not fake.writes
    assert "tokens[1] (host web2, credential media): buckets: bucket(s) 'not-there' do not exist in jurisdiction 'eu'" \
        in outcome.result['msg']


def test_duplicates_left_alone_are_not_counted_as_deleted_by_the_quota_check(fake):
    for name in ('web1:media', 'web1:media', 'web1:media~next', 'web1:media~next', 'other'):
        fake.add_token(name)
    outcome = run(r2_credential_set, tokens=tokens('web1', 'web2', 'web3'), token_quota=6, token_quota_reserve=0)
    assert outcome.failed and not fake.writes
    assert 'this run needs 7 tokens (5 now, 2 to create, 0 to delete)' in outcome.result['msg']


def test_duplicates_the_holder_cannot_tell_apart_are_all_reported_in_one_message_and_left_alone(fake):
    for name in ('web2:media', 'web2:media', 'web3:media', 'web3:media'):
        fake.add_token(name)
    before = set(fake.tokens)
    outcome = run(r2_credential_set, tokens=tokens('web1', 'web2', 'web3'))
    assert outcome.failed
    message = outcome.result['msg']
    assert message.startswith('2 of 3 entries failed')
    for host in ('web2', 'web3'):
        assert "tokens[%d] (host %s, credential media): name: 2 tokens are named '%s:media'" % (
            int(host[-1]) - 1, host, host) in message
    assert set(outcome.result['failures']) == set(('web2:media', 'web3:media'))
    # the other entry is applied, the duplicates are kept as they are
    assert [(m, p) for m, p, unused, unused2 in fake.writes] == [('POST', '/accounts/%s/tokens' % ACCOUNT)]
    assert before <= set(fake.tokens)
    assert outcome.result['credentials']['web1:media']['action'] == 'created'


def test_duplicates_resolved_by_the_holders_key_id_keep_the_one_in_use(fake):
    entries = tokens('web1')
    first = converge(fake, entries)
    kept = first['credentials']['web1:media']['access_key_id']
    twin = fake.add_token('web1:media', policies=fake.tokens[kept]['policies'])
    outcome = converge(fake, held(entries, first))
    assert outcome['credentials']['web1:media']['action'] == 'deduplicated'
    assert outcome['credentials']['web1:media']['new_material'] is False
    assert 'secret_access_key' not in outcome['credentials']['web1:media']
    stale_next = [fake.add_token('web1:media~next'), fake.add_token('web1:media~next')]
    outcome = converge(fake, held(entries, first))
    assert outcome['credentials']['web1:media']['action'] == 'rotation_abandoned'
    assert set(fake.tokens) == set([kept])
    deleted = sorted(p.rsplit('/', 1)[1] for m, p, unused, unused2 in fake.writes if m == 'DELETE')
    assert deleted == sorted([twin['id']] + [t['id'] for t in stale_next])
    again = len(fake.writes)
    converge(fake, held(entries, first))
    assert len(fake.writes) == again


def test_a_rotation_finishes_when_the_old_name_has_a_twin(fake):
    entries = tokens('web1')
    first = converge(fake, entries)
    started = converge(fake, [dict(e, rotate=True) for e in held(entries, first)])
    new_id = started['credentials']['web1:media']['access_key_id']
    fake.add_token('web1:media')   # a twin of the old token
    finished = converge(fake, held(entries, started))
    assert finished['credentials']['web1:media']['action'] == 'rotation_finished'
    assert [(t['id'], t['name']) for t in fake.tokens.values()] == [(new_id, 'web1:media')]


def test_a_failed_entry_does_not_stop_the_others_and_every_failure_is_reported(fake):
    entries = tokens('web1', 'web2', 'web3')
    temporary = [{'name': 'web1:upload', 'parent': 'web1:media', 'bucket': 'backups', 'jurisdiction': 'eu',
                  'permission': 'object_read_write', 'ttl_seconds': 3600},
                 {'name': 'web3:upload', 'parent': 'web3:media', 'bucket': 'backups', 'jurisdiction': 'eu',
                  'permission': 'object_read_write', 'ttl_seconds': 3600}]
    refused = envelope(None, 400, errors=[{'code': 1001, 'message': 'refused'}])
    fake.script.append(('POST', r'/tokens$', refused))
    outcome = run(r2_credential_set, tokens=entries, temporary=temporary)
    assert outcome.failed
    assert set(outcome.result['failures']) == set(('web1:media', 'web1:upload'))
    assert "parent token 'web1:media' failed" in outcome.result['failures']['web1:upload']
    creds = outcome.result['credentials']
    assert creds['web2:media']['action'] == creds['web3:media']['action'] == 'created'
    assert len(creds['web3:media']['secret_access_key']) == 64 and creds['web3:upload']['action'] == 'minted'
    assert outcome.result['summary'] == {'created': 2, 'minted': 1, 'failed': 2}
    assert len(fake.tokens) == 2


def test_an_account_wide_failure_stops_the_writes_after_it_and_converged_entries_keep_their_results(fake):
    converged = tokens('web0')
    first = converge(fake, converged)
    start = len(fake.writes)
    fake.script.append(('POST', r'/tokens$', envelope(None, 401, errors=[{'code': 10000, 'message': 'no'}])))
    outcome = run(r2_credential_set, tokens=tokens('web1', 'web2', 'web3') + held(converged, first))
    assert outcome.failed and len(fake.writes) == start + 1
    assert outcome.result['failures']['web3:media'].startswith('tokens[2] (host web3, credential media): not '
                                                               'attempted: Cloudflare rejected the API token')
    # the entry that needed no write is not a failure: its host is converged
    assert 'web0:media' not in outcome.result['failures']
    assert outcome.result['credentials']['web0:media']['action'] == 'unchanged'
    assert outcome.result['summary'] == {'unchanged': 1, 'failed': 3}


def test_a_delete_whose_answer_was_lost_counts_as_done(fake):
    entries = tokens('web1', 'web2')
    first = converge(fake, entries)
    victim = first['credentials']['web1:media']['access_key_id']

    def applied_then_reset(cf, method, path, params, body):
        del cf.tokens[victim]
        raise requests.exceptions.ConnectionError('Connection aborted: ConnectionResetError(104)')

    fake.script.append(('DELETE', victim, applied_then_reset))
    outcome = converge(fake, [dict(e, state='absent') for e in entries])
    assert outcome['summary'] == {'deleted': 2} and not fake.tokens
    assert [m for m, unused, unused2, unused3 in fake.calls].count('DELETE') == 3


def test_a_second_run_that_created_the_same_name_at_once_keeps_one_token(fake):
    """Two controllers create web1:media at the same time: the earlier token stays, this run deletes its own."""
    rival = {}

    def concurrent_create(cf, method, path, params, body):
        rival['token'] = cf.add_token(body['name'], policies=cf._enrich(body['policies']),
                                      issued_on='2025-12-31T23:59:59Z')
        return cf.route(method, path, params, body)

    fake.script.append(('POST', r'/tokens$', concurrent_create))
    outcome = run(r2_credential_set, tokens=tokens('web1', 'web2'))
    assert outcome.failed
    assert set(fake.tokens) == set([rival['token']['id'], outcome.result['credentials']['web2:media']['access_key_id']])
    assert 'web1:media' not in outcome.result['credentials']
    assert 'another run created a token named' in outcome.result['failures']['web1:media']
    # the run that made the earlier token keeps its own (and its holder the secret) when it sees the later one
    mine = {}

    def later_rival(cf, method, path, params, body):
        created = cf.route(method, path, params, body)
        mine['id'] = json_of(created)['result']['id']
        cf.add_token(body['name'], policies=cf._enrich(body['policies']), issued_on='2026-12-31T00:00:00Z')
        return created

    fake.tokens.clear()
    fake.script.append(('POST', r'/tokens$', later_rival))
    kept = converge(fake, tokens('web1'))
    assert kept['credentials']['web1:media']['access_key_id'] == mine['id']
    assert len(kept['credentials']['web1:media']['secret_access_key']) == 64


def test_check_mode_predicts_without_writes_or_secrets(fake):
    entries = tokens('web1', 'web2')
    predicted = run(r2_credential_set, check=True, tokens=entries).result
    assert predicted['summary'] == {'created': 2} and not fake.writes
    assert 'secret_access_key' not in json.dumps(predicted)
    first = converge(fake, entries)
    start = len(fake.writes)
    lost = run(r2_credential_set, check=True, tokens=held(entries, first, **{'web1:media': {'held_access_key_id': ''}}))
    assert lost.result['credentials']['web1:media']['action'] == 'rolled'
    assert lost.result['credentials']['web2:media']['action'] == 'unchanged'
    assert len(fake.writes) == start


def test_temporary_above_its_parent_is_refused_before_any_request(fake):
    entries = tokens('web1', permission='object_read_only')
    higher = [{'name': 'web1:upload', 'label': 'host web1, credential upload', 'parent': 'web1:media',
               'bucket': 'backups', 'jurisdiction': 'eu', 'permission': 'object_read_write'}]
    outcome = run(r2_credential_set, tokens=entries, temporary=higher)
    assert outcome.failed and not fake.calls
    assert outcome.result['msg'] == (
        "temporary[0] (host web1, credential upload): permission: object_read_write is higher than its parent "
        "token 'web1:media' allows (object_read_only); temporary credentials can never exceed their parent")
    elsewhere = [dict(higher[0], permission='object_read_only', bucket='two')]
    outcome = run(r2_credential_set, tokens=entries, temporary=elsewhere)
    assert outcome.failed and not fake.calls
    assert "bucket: 'two' (eu) is not among the buckets of its parent token 'web1:media'" in outcome.result['msg']


def test_api_token_parent_that_cannot_grant_fails_before_the_tokens_are_written(fake):
    fake.add_token('api', owner='user')  # no R2 permission at all
    api_value = [t for t in fake.tokens.values() if t['name'] == 'api'][0]['_value']
    outcome = run(r2_credential_set, api_token=api_value, tokens=tokens('web1'),
                  temporary=[{'name': 'web1:read', 'label': 'host web1, credential read', 'bucket': 'backups',
                              'jurisdiction': 'eu'}])
    assert outcome.failed and not fake.writes
    assert outcome.result['msg'].startswith("temporary[0] (host web1, credential read): permission: object_read_only "
                                            "on bucket 'backups' is higher than the parent token")


def test_rotation_without_a_holder_rolls_in_place_and_remints_the_children(fake):
    entries = [dict(tokens('web1')[0], fingerprint=None)]
    temporary = [{'name': 'web1:upload', 'parent': 'web1:media', 'bucket': 'backups', 'jurisdiction': 'eu'}]
    first = converge(fake, entries, temporary)
    rolled = converge(fake, [dict(entries[0], rotate=True)], temporary)
    got = rolled['credentials']['web1:media']
    assert got['action'] == 'rolled' and got['access_key_id'] == first['credentials']['web1:media']['access_key_id']
    assert got['secret_access_key'] != first['credentials']['web1:media']['secret_access_key']
    assert rolled['credentials']['web1:upload']['action'] == 'minted'
    assert [t['name'] for t in fake.tokens.values()] == ['web1:media']


def test_a_run_over_the_token_quota_fails_before_any_write(fake):
    for index in range(3):
        fake.add_token('other-%d' % index)
    outcome = run(r2_credential_set, tokens=tokens('web1', 'web2'), token_quota=4, token_quota_reserve=0)
    assert outcome.failed and not fake.writes
    assert outcome.result['msg'] == (
        'token_quota: account %s: this run needs 5 tokens (3 now, 2 to create, 0 to delete) and the account may '
        'hold 4 (quota 4 minus token_quota_reserve 0). To fit, share one parent token among many holders and give '
        'each its own temporary credentials (r2_credential_set temporary entries with a parent; in the provision '
        'role, shared: NAME on the credential), rotate in batches, or delete unused tokens. Nothing was changed in '
        'any account.' % fake.account_id)


def test_the_quota_keeps_its_reserve_free_and_counts_a_rotations_second_token(fake):
    # 500 - 10 = 490 tokens may be held: 488 of others, and the rotation of web1 needs one more
    entries = tokens('web1')
    first = converge(fake, entries)
    for index in range(488):
        fake.add_token('other-%d' % index)
    writes = len(fake.writes)
    rotate = held(entries, first)
    rotate[0]['rotate'] = True
    ok = run(r2_credential_set, tokens=rotate)
    assert not ok.failed and ok.result['credentials']['web1:media']['action'] == 'rotation_started'
    fake.add_token('other-488')
    again = run(r2_credential_set, tokens=tokens('web2'))
    assert again.failed and len(fake.writes) == writes + 1
    assert 'this run needs 492 tokens (491 now, 1 to create, 0 to delete) and the account may hold 490 (quota ' \
        '500 minus token_quota_reserve 10)' in again.result['msg']


def test_a_failed_write_returns_the_secrets_already_handed_out(fake):
    entries = tokens('web1', 'web2')
    first = converge(fake, entries)
    lost = held(entries, first, **{'web1:media': {'held_access_key_id': ''}})
    lost.append(tokens('web3')[0])
    fake.script.append(('POST', r'/tokens$', envelope(None, 400, errors=[{'code': 1001, 'message': 'quota'}])))
    outcome = run(r2_credential_set, tokens=lost)
    assert outcome.failed and outcome.result['msg'].startswith('1 of 3 entries failed')
    web1 = outcome.result['credentials']['web1:media']
    assert web1['action'] == 'rolled' and len(web1['secret_access_key']) == 64
    assert 'HTTP 400' in outcome.result['failures']['web3:media']


# -- issue 9: one validation, whole strings -------------------------------------------

TEMP = {'name': 'web1:upload', 'label': 'host web1, credential upload', 'bucket': 'backups', 'jurisdiction': 'eu',
        'parent_access_key_id': 'f' * 32}


def refused_before_any_call(fake_cf, **args):
    outcome = run(r2_credential_set, **args)
    assert outcome.failed and fake_cf.calls == [], (outcome.result, fake_cf.calls)
    return outcome.result['msg']


@pytest.mark.parametrize('suffix', HOSTILE, ids=HOSTILE_IDS)
def test_control_characters_in_names_labels_and_paths_are_refused_without_echo(fake, suffix):
    cases = [
        (dict(tokens=tokens('web1', name='web1:media' + suffix)),
         'tokens[0] (host web1, credential media): name: must not contain control characters'),
        (dict(tokens=tokens('web1', label='host web1' + suffix)),
         'tokens[0] (<%d characters not shown>): label: must not contain control characters' % (9 + len(suffix))),
        (dict(tokens=tokens('web1', buckets=['backups' + suffix])),
         'tokens[0] (host web1, credential media): buckets[0]: invalid bucket name <'),
        (dict(temporary=[dict(TEMP, name='web1:upload' + suffix)]),
         'temporary[0] (host web1, credential upload): name: must not contain control characters'),
        (dict(temporary=[dict(TEMP, label='upload' + suffix)]),
         'temporary[0] (<%d characters not shown>): label: must not contain control characters' % (6 + len(suffix))),
        (dict(temporary=[dict(TEMP, prefixes=['in/' + suffix])]),
         'temporary[0] (host web1, credential upload): prefixes[0]: must not contain control characters'),
        (dict(temporary=[dict(TEMP, objects=['in/file', 'x' + suffix])]),
         'temporary[0] (host web1, credential upload): objects[1]: must not contain control characters'),
        (dict(temporary=[dict(TEMP, bucket='backups' + suffix)]),
         'temporary[0] (host web1, credential upload): bucket: invalid bucket name <'),
        (dict(temporary=[dict(TEMP, parent_access_key_id='f' * 32 + suffix)]),
         'temporary[0] (host web1, credential upload): parent_access_key_id must be 32 hexadecimal characters'),
    ]
    for args, message in cases:
        msg = refused_before_any_call(fake, **args)
        assert msg.startswith(message), (msg, message)
        assert suffix not in msg


@pytest.mark.parametrize('args, message', [
    (dict(tokens=tokens('web1', name=' web1:media')),
     'tokens[0] (host web1, credential media): name: must not begin or end with whitespace'),
    (dict(tokens=tokens('web1', name='web1:media~next')),
     "tokens[0] (host web1, credential media): name: must not end with '~next' (reserved for the second token"),
    (dict(tokens=tokens('web1', name='x' * 116)),
     "tokens[0] (host web1, credential media): name: at most 115 characters here (a rotation adds '~next' and "
     "Cloudflare allows 120), got 116"),
    (dict(tokens=tokens('web1', name='x' * 116, state='absent')), 'name: at most 115 characters here'),
    (dict(temporary=[dict(TEMP, parent_access_key_id='abc?x=1')]),
     'temporary[0] (host web1, credential upload): parent_access_key_id must be 32 hexadecimal characters'),
    (dict(temporary=[dict(TEMP, parent_access_key_id='../../../user/tokens/verify')]),
     'temporary[0] (host web1, credential upload): parent_access_key_id must be 32 hexadecimal characters'),
    (dict(temporary=[dict(TEMP, prefixes=['p%d/' % i for i in range(20000)])]),
     "temporary[0] (host web1, credential upload): prefixes: at most 100 entries (the collection's cap), got 20000"),
    (dict(temporary=[dict(TEMP, objects=['o%d' % i for i in range(101)])]),
     "temporary[0] (host web1, credential upload): objects: at most 100 entries (the collection's cap), got 101"),
    (dict(tokens=tokens('web1', buckets=['b%03d' % i for i in range(501)])),
     "tokens[0] (host web1, credential media): buckets: at most 500 entries (the collection's cap), got 501"),
    (dict(tokens=tokens('web1', ip_allow=['10.0.%d.0/24' % i for i in range(101)])),
     "tokens[0] (host web1, credential media): ip_allow: at most 100 entries (the collection's cap), got 101"),
    (dict(tokens=tokens(*['h%d' % i for i in range(5001)])),
     "tokens: at most 5000 entries (the collection's cap), got 5001"),
    (dict(temporary=[dict(TEMP, name='t%d' % i) for i in range(5001)]),
     "temporary: at most 5000 entries (the collection's cap), got 5001"),
])
def test_reserved_names_bad_parent_ids_and_caps_are_refused_before_any_call(fake, args, message):
    assert message in refused_before_any_call(fake, **args)


def test_the_one_token_name_rule_is_in_r2():
    assert _reconcile.NEXT_SUFFIX is _r2.NEXT_SUFFIX


def test_a_good_parent_id_is_used_as_given(fake):
    parent = fake.add_token('parent', policies=[{'effect': 'allow', 'permission_groups': [
        {'id': GROUPS['Workers R2 Storage Bucket Item Write'], 'name': 'Workers R2 Storage Bucket Item Write'}],
        'resources': {'com.cloudflare.edge.r2.bucket.%s_eu_backups' % ACCOUNT: '*'}}])
    fake.add_bucket('backups', 'eu')
    result = run(r2_credential_set, temporary=[dict(TEMP, parent_access_key_id=parent['id'])]).result
    assert result['credentials']['web1:upload']['action'] == 'minted'
    assert fake.temp_credentials[-1]['parentAccessKeyId'] == parent['id']


# -- issue 10: dead tokens are drift ----------------------------------------------------------------------------

@pytest.mark.parametrize('status', ['disabled', 'expired', 'revoked (exposed)'])
def test_a_dead_token_is_reissued_to_its_holder_and_what_was_minted_from_it_again(fake, status):
    entries = tokens('web1', 'web2')
    temporary = [{'name': 'web1:upload', 'parent': 'web1:media', 'bucket': 'backups', 'jurisdiction': 'eu',
                  'permission': 'object_read_only', 'ttl_seconds': 3600, 'fingerprint': 't1'}]
    first = converge(fake, entries, temporary)
    dead_id = first['credentials']['web1:media']['access_key_id']
    fake.tokens[dead_id]['status'] = status
    temp = first['credentials']['web1:upload']
    holders = held(entries, first)
    holder_temp = [dict(temporary[0], held_access_key_id=temp['access_key_id'], held_fingerprint=temp['fingerprint'],
                        held_expiration=temp['expiration'])]
    start = len(fake.writes)
    predicted = run(r2_credential_set, check=True, tokens=holders, temporary=holder_temp).result
    assert predicted['summary'] == {'reissued': 1, 'unchanged': 1, 'minted': 1}
    assert predicted['credentials']['web1:media']['new_material'] and len(fake.writes) == start
    again = converge(fake, holders, holder_temp)
    got = again['credentials']['web1:media']
    assert again['summary'] == {'reissued': 1, 'unchanged': 1, 'minted': 1}
    assert got['action'] == 'reissued' and got['replaced_status'] == status and got['new_material']
    assert got['access_key_id'] != dead_id and dead_id not in fake.tokens and len(got['secret_access_key']) == 64
    assert got['token']['status'] == 'active'
    assert fake.temp_credentials[-1]['parentAccessKeyId'] == got['access_key_id']
    # the new token is the holder's now: converged
    assert converge(fake, held(entries, again))['summary'] == {'unchanged': 2}


def test_a_rotations_new_token_that_died_is_replaced_by_a_fresh_one(fake):
    entries = tokens('web1')
    first = converge(fake, entries)
    started = converge(fake, [dict(e, rotate=True) for e in held(entries, first)])
    next_id = started['credentials']['web1:media']['access_key_id']
    fake.tokens[next_id]['status'] = 'revoked (exposed)'
    # the holder never took it: the dead ~next goes, and the rotation starts over with a new one
    again = converge(fake, [dict(e, rotate=True) for e in held(entries, first)])
    got = again['credentials']['web1:media']
    assert got['action'] == 'rotation_started' and got['access_key_id'] not in (next_id, None)
    assert next_id not in fake.tokens and sorted(t['name'] for t in fake.tokens.values()) == [
        'web1:media', 'web1:media~next']
    # and the holder that did take the dead one gets the current token rolled (its key is dead)
    fake.tokens[got['access_key_id']]['status'] = 'expired'
    holder = held(entries, again)
    assert holder[0]['held_access_key_id'] == got['access_key_id']
    healed = converge(fake, holder)['credentials']['web1:media']
    assert healed['action'] == 'rolled' and healed['access_key_id'] == first['credentials']['web1:media']['access_key_id']
    assert [t['name'] for t in fake.tokens.values()] == ['web1:media']


def test_an_admin_token_of_0_3_0_is_updated_in_place_for_its_holder(fake):
    entry = dict(tokens('web1')[0], permission='admin_read_only', buckets=[])
    old = fake.add_token('web1:media', policies=fake._enrich([{
        'effect': 'allow', 'permission_groups': [{'id': GROUPS['Workers R2 Storage Read']}],
        'resources': {'com.cloudflare.api.account.%s' % ACCOUNT: '*'}}]))
    result = converge(fake, [dict(entry, held_access_key_id=old['id'], held_fingerprint='f1')])
    got = result['credentials']['web1:media']
    assert got['action'] == 'updated' and got['access_key_id'] == old['id'] and not got['new_material']
    assert got['token']['permission_groups'] == ['Workers R2 Data Catalog Read', 'Workers R2 Storage Read']
    assert [c[0] for c in fake.writes] == ['PUT'] and fake.tokens[old['id']]['_value'] == old['_value']


# -- issue 10: rotation schedule ---------------------------------------------------------------------------------

def age(fake_cf, token_id, days):
    """Make a token's secret ``days`` old (issued and last modified then)."""
    when = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=days)).strftime('%Y-%m-%dT%H:%M:%SZ')
    fake_cf.tokens[token_id].update(issued_on=when, modified_on=when)


def test_rotate_after_rotates_exactly_the_due_tokens_and_check_mode_lists_them(fake):
    entries = tokens('web1', 'web2', 'web3', rotate_after='90d')
    first = converge(fake, entries)
    ids = dict((e['name'], first['credentials'][e['name']]['access_key_id']) for e in entries)
    age(fake, ids['web1:media'], 91)
    age(fake, ids['web2:media'], 30)
    holders = held(entries, first)
    start = len(fake.calls)
    predicted = run(r2_credential_set, check=True, tokens=holders).result
    assert predicted['schedule']['due'] == ['web1:media']
    assert predicted['credentials']['web1:media']['action'] == 'rotation_started'
    assert predicted['summary'] == {'rotation_started': 1, 'unchanged': 2}
    assert not [c for c in fake.calls[start:] if c[0] in ('POST', 'PUT', 'DELETE')]
    # the next one to fall due is web2's, 60 days from now
    next_due = _r2.parse_time(predicted['schedule']['next_due_on'], 'x')
    in_days = (next_due - datetime.datetime.now(datetime.timezone.utc)).total_seconds() / 86400
    assert 59.9 < in_days < 60.1
    assert predicted['credentials']['web2:media']['rotate_due_on'] == predicted['schedule']['next_due_on']
    started = converge(fake, holders)
    assert started['schedule']['due'] == ['web1:media'] and started['summary'] == {'rotation_started': 1, 'unchanged': 2}
    new_id = started['credentials']['web1:media']['access_key_id']
    assert new_id != ids['web1:media'] and fake.tokens[ids['web1:media']]['status'] == 'active'
    # the holder takes the new token: the rotation finishes, and nothing is due any more
    finished = converge(fake, held(entries, started))
    assert finished['credentials']['web1:media']['action'] == 'rotation_finished'
    assert finished['schedule']['due'] == [] and ids['web1:media'] not in fake.tokens
    converged = converge(fake, held(entries, finished))
    assert converged['summary'] == {'unchanged': 3} and converged['schedule']['due'] == []
    assert converged['api_requests'] == {'GET': 1, 'total': 1}


def test_rotate_after_without_a_holder_rolls_in_place_once(fake):
    entries = [dict(e, fingerprint=None) for e in tokens('web1', rotate_after='1d')]
    first = converge(fake, entries)
    age(fake, first['credentials']['web1:media']['access_key_id'], 2)
    rolled = converge(fake, entries)
    assert rolled['credentials']['web1:media']['action'] == 'rolled' and rolled['schedule']['due'] == ['web1:media']
    # the roll updated modified_on: not due again
    assert converge(fake, entries)['summary'] == {'unchanged': 1}


def test_expire_after_sets_the_expiry_of_new_and_rotated_tokens_only(fake):
    entries = tokens('web1', rotate_after='30d', expire_after='45d')
    first = converge(fake, entries)
    token_id = first['credentials']['web1:media']['access_key_id']
    expires = _r2.parse_time(fake.tokens[token_id]['expires_on'], 'x')
    assert 44.9 < (expires - datetime.datetime.now(datetime.timezone.utc)).total_seconds() / 86400 < 45.1
    # an old token made before the schedule keeps its (lack of) expiry until it is rotated
    plain = converge(fake, tokens('web2'))
    web2 = plain['credentials']['web2:media']['access_key_id']
    converge(fake, held(tokens('web2', rotate_after='30d', expire_after='45d'), plain))
    assert 'expires_on' not in fake.tokens[web2]
    age(fake, token_id, 31)
    fake.tokens[token_id]['expires_on'] = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(
        days=14)).strftime('%Y-%m-%dT%H:%M:%SZ')
    started = converge(fake, held(entries, first))
    new_id = started['credentials']['web1:media']['access_key_id']
    new_expiry = fake.tokens[new_id]['expires_on']
    finished = converge(fake, held(entries, started))
    assert finished['credentials']['web1:media']['action'] == 'rotation_finished'
    # the renaming PUT keeps the new token's own expiry, not the old one's
    assert fake.tokens[new_id]['expires_on'] == new_expiry and fake.tokens[new_id]['name'] == 'web1:media'


@pytest.mark.parametrize('extra, message', [
    (dict(expire_after='90d'), 'expire_after: needs rotate_after, shorter than it'),
    (dict(rotate_after='90d', expire_after='90d'), 'expire_after: 90d leaves no room for the scheduled rotation '
                                                   'after rotate_after (90d)'),
    (dict(rotate_after='2w', expire_after='7d'), 'expire_after: 1w leaves no room'),
    (dict(rotate_after='30d', expire_after='60d', expires_on='2031-01-01T00:00:00Z'),
     'expire_after: give expire_after or expires_on, not both'),
    (dict(rotate_after='90 days'), 'rotate_after: must be a duration'),
    (dict(rotate_after=0), 'rotate_after: must be a duration: a positive number of seconds'),
])
def test_a_schedule_that_cannot_work_is_refused_before_any_call(fake, extra, message):
    outcome = run(r2_credential_set, tokens=tokens('web1', **extra))
    assert outcome.failed and message in outcome.result['msg'] and 'tokens[0] (host web1' in outcome.result['msg']
    assert fake.calls == []


def test_a_rotation_mints_the_children_from_the_new_token_so_they_outlive_the_finish(fake):
    """Temporary credentials made while their parent rotates come from the ~next token: the finishing DELETE of the
    old token does not kill them, and the finishing run does not mint them again."""
    entries = tokens('web1')
    temporary = [{'name': 'web1:upload', 'parent': 'web1:media', 'bucket': 'backups', 'jurisdiction': 'eu',
                  'permission': 'object_read_only', 'ttl_seconds': 3600, 'fingerprint': 't1'}]
    first = converge(fake, entries, temporary)

    def holding(result):
        temp = result['credentials']['web1:upload']
        return [dict(temporary[0], held_access_key_id=temp['access_key_id'], held_fingerprint=temp['fingerprint'],
                     held_expiration=temp['expiration'])]
    started = converge(fake, [dict(e, rotate=True) for e in held(entries, first)], holding(first))
    next_id = started['credentials']['web1:media']['access_key_id']
    assert started['credentials']['web1:upload']['action'] == 'minted'
    assert fake.temp_credentials[-1]['parentAccessKeyId'] == next_id
    minted = len(fake.temp_credentials)
    finished = converge(fake, held(entries, started), holding(started))
    assert finished['credentials']['web1:media']['action'] == 'rotation_finished'
    assert finished['credentials']['web1:upload']['action'] == 'kept' and len(fake.temp_credentials) == minted


# -- several accounts in one run ------------------------------------------------------------------------------------

OTHER = 'fedcba9876543210fedcba9876543210'
OTHER_URL = 'https://gateway.example.test/client/v4'


@pytest.fixture
def accounts(monkeypatch, fake):
    """A second account behind its own API URL, with its own fake; the module's default URL reaches ``fake``."""
    from ansible_collections.cloudflare_r2.credentials.plugins.module_utils import _api, _module
    from ansible_collections.cloudflare_r2.credentials.tests.unit.utils.fake_cloudflare import FakeCloudflare
    other = FakeCloudflare(OTHER)
    other.add_bucket('backups', 'eu')
    by_url = {_api.DEFAULT_API_URL: fake, OTHER_URL: other}

    def client_from_options(options, log=None):
        return _api.CloudflareClient(options['api_token'], api_url=options['api_url'],
                                     session=by_url[options['api_url']].session(), sleep=lambda s: None)
    monkeypatch.setattr(_module, 'client_from_options', client_from_options)
    return fake, other


OTHER_TOKEN = 'cfat_' + 'Zq81xLm0Pw7vT3sYbN5cRd2eKf6gHj9uAi4oUy1tEr' * 2


def two_accounts(entries, **extra):
    args = dict(tokens=entries, accounts=[{'account_id': OTHER, 'api_url': OTHER_URL, 'api_token': OTHER_TOKEN}])
    args.update(extra)
    return run(r2_credential_set, **args)


def test_two_accounts_are_provisioned_in_one_run_with_one_listing_each(accounts):
    first, other = accounts
    entries = tokens('web1') + tokens('db1', account_id=OTHER)
    outcome = two_accounts(entries)
    assert not outcome.failed, outcome.result['msg']
    got = outcome.result
    assert [t['name'] for t in first.tokens.values()] == ['web1:media']
    assert [t['name'] for t in other.tokens.values()] == ['db1:media']
    assert got['credentials']['db1:media']['action'] == 'created'
    assert other.calls[0][1] == '/accounts/%s/tokens' % OTHER
    # the second account's token authorised its calls, the module's the first account's
    assert got['accounts'][OTHER]['summary'] == {'created': 1} and got['summary'] == {'created': 2}
    converged = two_accounts(held(entries, got))
    assert not converged.failed and converged.result['summary'] == {'unchanged': 2}
    assert converged.result['accounts'][ACCOUNT.lower()]['api_requests'] == {'GET': 1, 'total': 1}
    assert converged.result['accounts'][OTHER]['api_requests'] == {'GET': 1, 'total': 1}
    assert converged.result['api_requests'] == {'GET': 2, 'total': 2}


def test_a_quota_failure_in_one_account_stops_every_write(accounts):
    first, other = accounts
    for index in range(489):
        other.add_token('other-%d' % index)
    entries = tokens('web1') + tokens('db1', 'db2', account_id=OTHER)
    outcome = two_accounts(entries)
    assert outcome.failed and not first.writes and not other.writes
    assert outcome.result['msg'].startswith('token_quota: account %s: this run needs 491 tokens' % OTHER)
    assert outcome.result['msg'].endswith('Nothing was changed in any account.')


def test_an_account_whose_api_token_is_refused_fails_alone(accounts):
    first, other = accounts
    other.script.append(('GET', r'/tokens$', envelope(None, 401, errors=[{'code': 1000, 'message': 'Invalid API Token'}])))
    entries = tokens('web1') + tokens('db1', account_id=OTHER)
    outcome = two_accounts(entries)
    assert outcome.failed and not other.writes
    assert [t['name'] for t in first.tokens.values()] == ['web1:media']
    assert outcome.result['credentials']['web1:media']['action'] == 'created'
    assert list(outcome.result['failures']) == ['db1:media']
    assert 'account %s: not attempted: Cloudflare rejected the API token' % OTHER in outcome.result['failures']['db1:media']


def test_names_are_unique_across_the_accounts_of_a_run(accounts):
    first, other = accounts
    outcome = two_accounts(tokens('web1') + tokens('web1', account_id=OTHER))
    assert outcome.failed and not first.calls and not other.calls
    assert outcome.result['msg'] == ("tokens: name: 'web1:media' is also the name of an entry of account %s; names "
                                     "are unique across the accounts of a run" % ACCOUNT.lower())


# -- local signing from a shared parent whose secret the play has -----------------------------------------------------

def test_temporary_credentials_signed_locally_make_no_api_call_and_verify_as_cloudflare_would(fake):
    parent = tokens('shared')[0]
    made = converge(fake, [parent])['credentials']['shared:media']
    secret = made['secret_access_key']
    parent = dict(parent, signing_key=secret, held_access_key_id=None)
    children = [{'name': 'web%d:upload' % n, 'bucket': 'backups', 'jurisdiction': 'eu', 'parent': 'shared:media',
                 'permission': 'object_read_write', 'prefixes': ['web%d/' % n], 'signing': 'local',
                 'endpoint_url': 'https://gw.example.test:8443'} for n in (1, 2)]
    start = len(fake.calls)
    got = converge(fake, [parent], temporary=children)
    # one listing and the bucket check: no mint request per holder
    assert [c[:2] for c in fake.calls[start:]] == [('GET', '/accounts/%s/tokens' % fake.account_id),
                                                   ('GET', '/accounts/%s/r2/buckets' % fake.account_id)]
    assert not fake.temp_credentials
    one = got['credentials']['web1:upload']
    assert one['action'] == 'minted' and one['access_key_id'] == made['access_key_id']
    # what the S3 side checks: the JWT is signed with the parent's secret, its secret is the JWT's SHA-256
    jwt = base64_jwt(one['session_token'])
    head, claims, signature = jwt.split('.')
    expected = hmac.new(secret.encode(), ('%s.%s' % (head, claims)).encode(), hashlib.sha256).digest()
    assert base64.urlsafe_b64decode(signature + '==') == expected
    assert hashlib.sha256(jwt.encode()).hexdigest() == one['secret_access_key']
    body = json.loads(base64.urlsafe_b64decode(claims + '=' * (-len(claims) % 4)))
    assert (body['aud'], body['bucket'], body['paths']) == ('gw.example.test:8443', 'backups',
                                                            {'prefixPaths': ['web1/']})
    # the parent's secret is in no result
    assert secret not in json.dumps(got)


def test_local_signing_after_a_roll_uses_the_new_secret_and_says_the_given_one_is_stale(fake):
    parent = tokens('shared')[0]
    made = converge(fake, [parent])['credentials']['shared:media']
    child = {'name': 'web1:upload', 'bucket': 'backups', 'jurisdiction': 'eu', 'parent': 'shared:media',
             'permission': 'object_read_write', 'signing': 'local'}
    rolled = run(r2_credential_set, tokens=[dict(parent, signing_key=made['secret_access_key'], rotate=True)],
                 temporary=[child])
    assert not rolled.failed, rolled.result['msg']
    new_secret = rolled.result['credentials']['shared:media']['secret_access_key']
    assert new_secret != made['secret_access_key']
    assert any('signing_key is out of date' in w for w in rolled.result.get('warnings', []))
    jwt = base64_jwt(rolled.result['credentials']['web1:upload']['session_token'])
    head, claims, signature = jwt.split('.')
    assert base64.urlsafe_b64decode(signature + '==') == hmac.new(
        new_secret.encode(), ('%s.%s' % (head, claims)).encode(), hashlib.sha256).digest()


def base64_jwt(session_token):
    return base64.b64decode(session_token).decode()[len('jwt/'):]


@pytest.mark.parametrize('token_extra, temp_extra, message', [
    ({}, {'signing': 'local'}, 'temporary[0] (web1:upload): signing: local needs parent, a token of this run with '
                               'its signing_key given'),
    ({'signing_key': 'A' * 64}, {'signing': 'local'},
     "tokens[0] (host shared, credential media): signing_key: must be the token's Secret Access Key, 64 "
     "lowercase hexadecimal characters"),
    ({'signing_key': 'a' * 64}, {'signing': 'local', 'endpoint_url': 'ftp://x'},
     'temporary[0] (web1:upload): endpoint_url: must be an http:// or https:// URL'),
], ids=['no-secret', 'bad-secret', 'bad-endpoint'])
def test_local_signing_input_is_checked_before_any_request(fake, token_extra, temp_extra, message):
    child = dict({'name': 'web1:upload', 'bucket': 'backups', 'jurisdiction': 'eu', 'parent': 'shared:media'},
                 **temp_extra)
    outcome = run(r2_credential_set, tokens=[dict(tokens('shared')[0], **token_extra)], temporary=[child])
    assert outcome.failed and not fake.calls
    assert outcome.result['msg'].startswith(message), outcome.result['msg']
    assert 'A' * 64 not in json.dumps(outcome.result)


def test_accounts_that_share_an_api_token_share_one_client_and_each_reports_its_own_requests(fake):
    outcome = run(r2_credential_set, tokens=tokens('web1') + tokens('db1', account_id=OTHER),
                  accounts=[{'account_id': OTHER}])
    assert not outcome.failed, outcome.result['msg']
    got = outcome.result
    mine, other = got['accounts'][ACCOUNT.lower()]['api_requests'], got['accounts'][OTHER]['api_requests']
    assert mine['POST'] == 1 and other['POST'] == 1
    assert mine['total'] + other['total'] == got['api_requests']['total']
    assert all(path.startswith('/accounts/%s/' % OTHER) for method, path, dummy, dummy2 in fake.calls
               if path.startswith('/accounts/') and ACCOUNT.lower() not in path)
