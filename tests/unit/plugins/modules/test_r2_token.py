# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""r2_token and r2_token_info against an in-memory fake of the token API."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re

import pytest
import yaml

from ansible_collections.cloudflare_r2.credentials.plugins.modules import r2_token, r2_token_info
from ansible_collections.cloudflare_r2.credentials.tests.unit.utils.ansible_module import (
    message_of,
    result_of,
    run_module,
)
from ansible_collections.cloudflare_r2.credentials.tests.unit.utils.fake_cloudflare import GROUPS, FakeCloudflare, modules_use
from ansible_collections.cloudflare_r2.credentials.tests.unit.utils.hostile_text import HOSTILE, HOSTILE_IDS

ACCOUNT = '0123456789abcdef0123456789abcdef'
API_TOKEN = 'cfut_' + 'Vb8Nm2Qw4Er6Ty8Ui0Op1As3Df5Gh7Jk' + 'Zx9Cv2Bn4'


@pytest.fixture
def fake(monkeypatch):
    cloudflare = FakeCloudflare(ACCOUNT)
    for jurisdiction, names in (('default', ('one', 'budget-a')), ('eu', ('backups', 'two')), ('fedramp', ('logs',))):
        for name in names:
            cloudflare.add_bucket(name, jurisdiction)
    return modules_use(monkeypatch, cloudflare)


def run(module, check=False, diff=False, **args):
    params = {'api_token': API_TOKEN, 'account_id': ACCOUNT}
    params.update(args)
    for key in [k for k, v in params.items() if v is None]:
        del params[key]
    return run_module(module, params, check=check, diff=diff)


def ok(module, **args):
    return result_of(run(module, **args))


def failed(module, **args):
    return message_of(run(module, **args))


OBJ = dict(name='web1-backup', permission='object_read_write', jurisdiction='eu', buckets=['backups'])


def test_create_returns_credentials_once_then_no_change_without_writes(fake):
    first = ok(r2_token, **OBJ)
    assert first['changed'] is True
    token = list(fake.tokens.values())[0]
    assert first['access_key_id'] == token['id']
    assert first['token_value'] == token['_value']
    assert re.match('^[0-9a-f]{64}$', first['secret_access_key'])
    assert first['token']['buckets'] == [{'name': 'backups', 'jurisdiction': 'eu'}]
    assert first['endpoints'] == {'eu': 'https://%s.eu.r2.cloudflarestorage.com' % ACCOUNT}
    writes_before = len(fake.writes)
    second = ok(r2_token, **OBJ)
    assert second['changed'] is False
    assert 'secret_access_key' not in second and 'token_value' not in second
    assert second['access_key_id'] == token['id']
    assert len(fake.writes) == writes_before


def test_update_in_place_keeps_id_and_value(fake):
    first = ok(r2_token, **OBJ)
    value = list(fake.tokens.values())[0]['_value']
    wider = dict(OBJ)
    wider.update(permission='object_read_only', buckets=['backups', {'name': 'logs', 'jurisdiction': 'fedramp'}])
    changed = ok(r2_token, **wider)
    assert changed['changed'] is True and 'secret_access_key' not in changed
    assert changed['token']['id'] == first['token']['id']
    assert changed['token']['permission'] == 'object_read_only'
    assert sorted(changed['endpoints']) == ['eu', 'fedramp']
    assert list(fake.tokens.values())[0]['_value'] == value
    assert [c[0] for c in fake.writes] == ['POST', 'PUT']


def test_rotate_rolls_value_and_returns_new_secret(fake):
    first = ok(r2_token, **OBJ)
    rotated = ok(r2_token, rotate=True, **OBJ)
    assert rotated['changed'] is True
    assert rotated['access_key_id'] == first['access_key_id']
    assert rotated['secret_access_key'] != first['secret_access_key']
    assert fake.writes[-1][1].endswith('/value')


def test_absent_deletes_then_no_change(fake):
    ok(r2_token, **OBJ)
    gone = ok(r2_token, name=OBJ['name'], state='absent')
    assert gone['changed'] is True and not fake.tokens and gone['token']['name'] == OBJ['name']
    again = ok(r2_token, name=OBJ['name'], state='absent')
    assert again['changed'] is False and again['token'] is None


def test_check_mode_predicts_and_writes_nothing(fake):
    predicted = ok(r2_token, check=True, diff=True, **OBJ)
    assert predicted['changed'] is True and predicted['access_key_id'] is None
    assert 'secret_access_key' not in predicted and not fake.writes and not fake.tokens
    assert predicted['diff']['before'] == {} and predicted['diff']['after']['permission'] == 'object_read_write'
    ok(r2_token, **OBJ)
    count = len(fake.writes)
    assert ok(r2_token, check=True, **OBJ)['changed'] is False
    assert ok(r2_token, check=True, rotate=True, **OBJ)['changed'] is True
    narrower = dict(OBJ)
    narrower['permission'] = 'object_read_only'
    assert ok(r2_token, check=True, **narrower)['token']['permission'] == 'object_read_only'
    assert ok(r2_token, check=True, name=OBJ['name'], state='absent')['changed'] is True
    assert len(fake.writes) == count and len(fake.tokens) == 1


def test_diff_shows_only_non_secret_fields(fake):
    created = ok(r2_token, diff=True, **OBJ)
    rotated = ok(r2_token, diff=True, rotate=True, ip_allow=['192.0.2.1'], **OBJ)
    for result in (created, rotated):
        text = json.dumps(result['diff'])
        assert result['token_value'] not in text and result['secret_access_key'] not in text
        assert set(result['diff']['after']) == {'name', 'owner', 'status', 'permission', 'permission_groups',
                                                'buckets', 'ip_allow', 'ip_deny', 'expires_on', 'not_before'}
    assert rotated['diff']['before']['ip_allow'] == [] and rotated['diff']['after']['ip_allow'] == ['192.0.2.1/32']


def test_unmanaged_fields_are_kept_and_empty_values_clear_them(fake):
    ok(r2_token, ip_allow=['10.0.0.0/8'], expires_on='2031-01-01T00:00:00Z', **OBJ)
    kept = ok(r2_token, **OBJ)
    assert kept['changed'] is False and kept['token']['ip_allow'] == ['10.0.0.0/8']
    cleared = ok(r2_token, ip_allow=[], expires_on='', **OBJ)
    assert cleared['changed'] is True
    assert cleared['token']['ip_allow'] == [] and cleared['token']['expires_on'] is None


def test_user_owner_uses_user_endpoints(fake):
    ok(r2_token, owner='user', name='u1', permission='admin_read_only')
    assert fake.writes[0][1] == '/user/tokens'
    listing = ok(r2_token_info, owner='user')
    assert [t['name'] for t in listing['tokens']] == ['u1']
    assert ok(r2_token_info)['tokens'] == []


def test_duplicate_names_fail_with_ids_and_no_write(fake):
    a = fake.add_token('dup')
    b = fake.add_token('dup')
    for args in (dict(name='dup', permission='admin_read_only'), dict(name='dup', state='absent')):
        msg = failed(r2_token, **args)
        assert a['id'] in msg and b['id'] in msg and 'name:' in msg
    assert not fake.writes


@pytest.mark.parametrize('args,message', [
    (dict(account_id='abc'), 'account_id must be 32 hexadecimal characters'),
    (dict(buckets=['Bad_Bucket']), "buckets[0]: invalid bucket name 'Bad_Bucket'"),
    (dict(buckets=['-x-']), '3-63 characters'),
    (dict(jurisdiction='Eu'), 'jurisdiction: must be a jurisdiction, a lowercase name'),
    (dict(buckets=[{'name': 'ok-bucket', 'jurisdiction': 'eu-west'}]), 'buckets[0].jurisdiction: must be a jurisdiction'),
    (dict(permission='superuser'), 'permission must be one of'),
    (dict(permission='admin_read_write'), 'buckets: must be empty with permission=admin_read_write'),
    (dict(ip_allow=['10.0.0.0/33']), "ip_allow[0]: '10.0.0.0/33' is not a valid"),
    (dict(expires_on='2001-01-01T00:00:00Z'), 'expires_on must be in the future'),
    (dict(expires_on='2031-01-01T00:00:00Z', not_before='2032-01-01T00:00:00Z'), 'must be after not_before'),
    (dict(name='n' * 121), 'name must be at most 120 characters'),
    (dict(api_token=None), 'CLOUDFLARE_API_TOKEN'),
    (dict(account_id=None), 'CLOUDFLARE_ACCOUNT_ID'),
])
def test_bad_input_fails_before_any_api_call(fake, args, message):
    params = dict(OBJ)
    params.update(args)
    msg = failed(r2_token, **params)
    assert message in msg
    assert fake.calls == []


def test_info_filters_and_query(fake):
    ok(r2_token, name='app-a', permission='object_read_only', buckets=['one'])
    ok(r2_token, name='app-b', permission='admin_read_write')
    ok(r2_token, name='other', permission='object_read_write', jurisdiction='eu', buckets=['two'])
    writes = len(fake.writes)
    assert [t['name'] for t in ok(r2_token_info, name_prefix='app-')['tokens']] == ['app-a', 'app-b']
    assert [t['name'] for t in ok(r2_token_info, name='other')['tokens']] == ['other']
    result = ok(r2_token_info, query="[?permission=='object_read_write'].buckets[].jurisdiction")
    assert result['query_result'] == ['eu'] and result['changed'] is False
    assert ok(r2_token_info, check=True)['tokens']
    assert 'query: not a valid JMESPath' in failed(r2_token_info, query='[?')
    assert len(fake.writes) == writes
    for token in ok(r2_token_info)['tokens']:
        assert 'value' not in token and set(token) >= {'id', 'permission', 'buckets', 'ip_allow', 'issued_on'}


def _doc(module, name):
    return yaml.safe_load(getattr(module, name))


@pytest.mark.parametrize('module', [r2_token, r2_token_info])
def test_return_docs_match_the_result_keys(fake, module):
    """RETURN documents exactly what the module returns (keys drift otherwise)."""
    ok(r2_token, **OBJ)
    created = ok(r2_token, rotate=True, **OBJ) if module is r2_token else ok(r2_token_info, query='[].name')
    documented = set(_doc(module, 'RETURN'))
    returned = set(created) - {'changed', 'diff', 'warnings', 'invocation'}
    assert returned == documented
    if module is r2_token:
        token_fields = set(_doc(module, 'RETURN')['token']['contains'])
        assert set(created['token']) == token_fields
        # r2_token_info returns the same token, with its hygiene findings
        assert set(ok(r2_token_info)['tokens'][0]) - {'findings'} == token_fields


# -- issue 9: one validation, whole strings -------------------------------------------

@pytest.mark.parametrize('suffix', HOSTILE, ids=HOSTILE_IDS)
@pytest.mark.parametrize('args, message', [
    (dict(name='web1-backup{}'), 'name: must not contain control characters'),
    (dict(name='web1-backup{}', state='absent'), 'name: must not contain control characters'),
    (dict(name='web1{}-backup'), 'name: must not contain control characters'),
    # check_buckets=false: before, 'backups\n' became a write Cloudflare refuses
    (dict(buckets=['backups{}'], check_buckets=False), 'buckets[0]: invalid bucket name <'),
    (dict(buckets=[{'name': 'backups', 'jurisdiction': 'eu{}'}]), 'buckets[0].jurisdiction: must be a jurisdiction'),
    (dict(ip_allow=['192.0.2.0/24{}']), 'ip_allow[0]: <'),
    (dict(expires_on='2031-01-01T00:00:00Z{}'), 'expires_on: <'),
    (dict(account_id=ACCOUNT + '{}'), 'account_id must be 32 hexadecimal characters'),
])
def test_a_control_character_anywhere_fails_before_any_api_call(fake, suffix, args, message):
    params = dict(OBJ, check_buckets=False)
    params.update(dict((k, json.loads(json.dumps(v).replace('{}', json.dumps(suffix)[1:-1])))
                       for k, v in args.items()))
    msg = failed(r2_token, **params)
    assert message in msg and suffix not in msg
    assert fake.calls == []


@pytest.mark.parametrize('args, message', [
    (dict(name=' web1-backup'), 'name: must not begin or end with whitespace'),
    (dict(name='web1-backup '), 'name: must not begin or end with whitespace'),
    (dict(name='web1-backup~next'), "name: must not end with '~next' (reserved for the second token of a rotation)"),
    (dict(name='web1-backup~next', state='absent'), "name: must not end with '~next'"),
    (dict(buckets=['b%03d' % i for i in range(501)]), "buckets: at most 500 entries (the collection's cap), got 501"),
    (dict(ip_allow=['10.0.%d.0/24' % i for i in range(101)]),
     "ip_allow: at most 100 entries (the collection's cap), got 101"),
    (dict(ip_deny=['10.0.%d.0/24' % i for i in range(150)]),
     "ip_deny: at most 100 entries (the collection's cap), got 150"),
])
def test_reserved_names_whitespace_and_caps_fail_before_any_api_call(fake, args, message):
    params = dict(OBJ)
    params.update(args)
    assert message in failed(r2_token, **params)
    assert fake.calls == []


def test_a_name_ending_in_next_is_not_taken_from_a_rotation(fake):
    """r2_credential_set deletes a NAME~next token its holder does not hold: r2_token may not make one."""
    fake.add_token('web1-backup~next')
    params = dict(OBJ)
    params['name'] = 'web1-backup~next'
    assert "must not end with '~next'" in failed(r2_token, **params)
    assert not fake.writes and [t['name'] for t in fake.tokens.values()] == ['web1-backup~next']
    params['name'] = 'x' * 120
    assert ok(r2_token, **params)['changed'] is True   # r2_token does not rotate: 120 characters stay allowed


# -- issue 10: dead tokens, status, the Admin levels, jurisdictions ----------------------------------------------

def test_status_disables_without_deleting_and_enables_again_with_the_same_secret(fake):
    created = ok(r2_token, **OBJ)
    disabled = ok(r2_token, status='disabled', **OBJ)
    assert disabled['changed'] and disabled['action'] == 'updated' and disabled['token']['status'] == 'disabled'
    assert disabled['access_key_id'] == created['access_key_id'] and 'secret_access_key' not in disabled
    assert ok(r2_token, status='disabled', **OBJ)['changed'] is False
    # status left out leaves it as it is (unmanaged means unchanged); status=active enables it again
    assert ok(r2_token, **OBJ)['action'] == 'unchanged'
    enabled = ok(r2_token, status='active', **OBJ)
    assert enabled['action'] == 'updated' and enabled['token']['status'] == 'active'
    token = fake.tokens[created['access_key_id']]
    assert token['status'] == 'active' and token['_value'] == created['token_value']
    assert ok(r2_token, **OBJ)['action'] == 'unchanged'


@pytest.mark.parametrize('status', ['expired', 'revoked (exposed)'])
def test_a_dead_token_is_replaced_by_a_new_one_of_the_same_name(fake, status):
    created = ok(r2_token, **OBJ)
    fake.tokens[created['access_key_id']].update(status=status, expires_on='2026-02-01T00:00:00Z')
    predicted = ok(r2_token, check=True, **OBJ)
    assert predicted['changed'] and predicted['action'] == 'reissued' and predicted['access_key_id'] is None
    assert len(fake.writes) == 1  # the create only
    reissued = ok(r2_token, **OBJ)
    assert reissued['action'] == 'reissued' and reissued['changed']
    assert reissued['access_key_id'] != created['access_key_id'] and len(reissued['secret_access_key']) == 64
    assert created['access_key_id'] not in fake.tokens
    assert [t['name'] for t in fake.tokens.values()] == [OBJ['name']]
    # the expiry that killed it is not carried over (none was asked for)
    assert reissued['token']['expires_on'] is None and reissued['token']['status'] == 'active'
    assert ok(r2_token, **OBJ)['action'] == 'unchanged'


def test_a_dead_token_asked_to_be_disabled_is_left_alone_and_deleted_when_absent(fake):
    created = ok(r2_token, **OBJ)
    fake.tokens[created['access_key_id']]['status'] = 'revoked (exposed)'
    kept = ok(r2_token, status='disabled', **OBJ)
    assert kept['action'] == 'unchanged' and kept['token']['status'] == 'revoked (exposed)' and not fake.writes[1:]
    gone = ok(r2_token, **dict(OBJ, state='absent'))
    assert gone['action'] == 'deleted' and gone['token']['status'] == 'revoked (exposed)' and not fake.tokens


def test_an_admin_token_of_0_3_0_gets_its_data_catalog_group_in_place(fake):
    groups = fake._enrich([{'effect': 'allow', 'permission_groups': [{'id': GROUPS['Workers R2 Storage Write']}],
                            'resources': {'com.cloudflare.api.account.%s' % ACCOUNT: '*'}}])
    old = fake.add_token('admin-writer', policies=groups)
    result = ok(r2_token, name='admin-writer', permission='admin_read_write')
    assert result['action'] == 'updated' and result['access_key_id'] == old['id'] and 'token_value' not in result
    assert fake.tokens[old['id']]['_value'] == old['_value']
    assert result['token']['permission_groups'] == ['Workers R2 Data Catalog Write', 'Workers R2 Storage Write']
    assert [c[0] for c in fake.writes] == ['PUT']
    assert ok(r2_token, name='admin-writer', permission='admin_read_write')['changed'] is False
    fresh = ok(r2_token, name='admin-reader', permission='admin_read_only')
    assert fresh['token']['permission_groups'] == ['Workers R2 Data Catalog Read', 'Workers R2 Storage Read']


def test_us_buckets_and_a_jurisdiction_cloudflare_adds_later(fake):
    fake.add_bucket('residency', 'us')
    made = ok(r2_token, name='us-writer', permission='object_read_write', buckets=['residency'], jurisdiction='us')
    assert made['endpoints'] == {'us': 'https://%s.us.r2.cloudflarestorage.com' % ACCOUNT}
    assert made['token']['buckets'] == [{'name': 'residency', 'jurisdiction': 'us'}]
    # an unknown lowercase name passes validation with a warning, and the bucket pre-flight refuses it
    outcome = run(r2_token, name='mars-writer', permission='object_read_write', buckets=['data'], jurisdiction='mars')
    assert outcome.failed and "jurisdiction: Cloudflare does not know jurisdiction 'mars'" in message_of(outcome)
    assert any("'mars' is not a jurisdiction this collection knows" in w for w in outcome.result.get('warnings', []))
    assert [c[0] for c in fake.writes] == ['POST']
