# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet model of the provision role: validation, what a host holds, entries, rendering."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import json
import os
import secrets

import pytest
import yaml

from ansible_collections.cloudflare_r2.credentials.plugins.module_utils import _provision
from ansible_collections.cloudflare_r2.credentials.plugins.filter import provision as provision_filters
from ansible_collections.cloudflare_r2.credentials.tests.unit.utils.hostile_text import HOSTILE, HOSTILE_IDS

ACCOUNT = '0123456789abcdef0123456789abcdef'
SETTINGS = {'account_id': ACCOUNT, 'user': 'deploy'}
HOMES = {'deploy': '/home/deploy', 'backup': '/srv/backup'}
CREDENTIALS = [
    {'name': 'media', 'permission': 'object_read_write', 'jurisdiction': 'eu', 'buckets': ['media-eu'],
     's3cmd': True, 'env_file': True},
    {'name': 'incoming', 'type': 'temporary', 'parent': 'media', 'permission': 'object_read_write',
     'jurisdiction': 'eu', 'bucket': 'media-eu', 'prefixes': ['in/'], 'ttl_seconds': 3600},
    {'name': 'audit', 'permission': 'admin_read_only', 'jurisdiction': 'fedramp', 'user': 'backup', 'rclone': False},
]


def users_of(homes, held=None):
    """What r2_client_files_info returns for users with ``homes``; ``held``: {(user, profile): held entry}."""
    return [{'user': user, 'exists': True, 'home': home,
             'profiles': dict((p, h) for (u, p), h in (held or {}).items() if u == user)}
            for user, home in sorted(homes.items())]


def plan_of(credentials=None, settings=None, homes=None, host='web1', held=None):
    plan = provision_filters.r2_provision_plan(copy.deepcopy(CREDENTIALS if credentials is None else credentials),
                                               host, dict(SETTINGS, **(settings or {})),
                                               users_of(HOMES if homes is None else homes, held))
    assert not plan['errors'], plan['errors']
    return plan


def errors_of(credentials, settings=None):
    return _provision.normalize_host('web1', credentials, dict(SETTINGS, **(settings or {})))['errors']


def test_plan_normalises_names_endpoints_files_and_users():
    plan = plan_of()
    media, incoming, audit = plan['credentials']
    assert plan['users'] == ['backup', 'deploy']
    assert media['key'] == 'ansible:web1/media' and media['label'] == 'host web1, credential media'
    assert media['endpoint'] == 'https://%s.eu.r2.cloudflarestorage.com' % ACCOUNT
    assert audit['endpoint'] == 'https://%s.fedramp.r2.cloudflarestorage.com' % ACCOUNT
    assert media['buckets'] == [('eu', 'media-eu')]
    assert incoming['parent_key'] == 'ansible:web1/media'
    assert media['files'] == {
        'aws_config': '/home/deploy/.aws/config', 'aws_credentials': '/home/deploy/.aws/credentials',
        'rclone': '/home/deploy/.config/rclone/rclone.conf', 's3cmd': '/home/deploy/.s3cfg-media',
        'env_file': '/home/deploy/.config/r2/media.env'}
    assert sorted(audit['files']) == ['aws_config', 'aws_credentials']
    assert audit['files']['aws_config'] == '/srv/backup/.aws/config'
    # one r2_client_files_info call reads every user's profiles
    assert plan['inspect'] == [
        {'user': 'backup', 'profiles': [{'name': 'audit', 'rclone': False, 's3cmd': False, 'env_file': False,
                                         'session': False}]},
        {'user': 'deploy', 'profiles': [{'name': 'media', 'rclone': True, 's3cmd': True, 'env_file': True,
                                         'session': False},
                                        {'name': 'incoming', 'rclone': True, 's3cmd': False, 'env_file': False,
                                         'session': True}]}]
    assert plan['missing_users'] == []
    # the fingerprint follows how the host uses the credential
    other = plan_of(settings={'endpoint_overrides': {'eu': 'http://127.0.0.1:9000', 'fedramp': 'http://127.0.0.1:9001'}})
    assert other['credentials'][0]['endpoint'] == 'http://127.0.0.1:9000'
    assert other['credentials'][0]['fingerprint'] != media['fingerprint']
    assert plan_of()['credentials'][0]['fingerprint'] == media['fingerprint']


def test_render_root_replaces_the_home():
    plan = plan_of(settings={'render_root': '/tmp/bench/web1'}, homes={})
    assert plan['credentials'][0]['files']['aws_credentials'] == '/tmp/bench/web1/deploy/.aws/credentials'
    assert plan['inspect'][1]['home'] == '/tmp/bench/web1/deploy'
    assert plan['missing_users'] == []


def test_a_user_that_does_not_exist_is_reported():
    plan = plan_of(homes={'deploy': '/home/deploy'})
    assert plan['missing_users'] == ['backup']


@pytest.mark.parametrize('credentials, settings, message', [
    ([{'name': 'a', 'permission': 'object_read_only', 'bucket': 'x'}], None,
     "web1: provision_credentials[0] (a): unknown field(s) bucket for type token"),
    ([{'name': 'a', 'permission': 'read'}], None,
     "web1: provision_credentials[0] (a): permission: must be one of admin_read_write, admin_read_only, "
     "object_read_write, object_read_only"),
    ([{'name': 'a'}], None, "web1: provision_credentials[0] (a): permission: required"),
    ([{'name': 'a', 'permission': 'object_read_only'}], {'user': None},
     "web1: provision_credentials[0] (a): user: required (here or as provision_user)"),
    ([{'name': 'bad name', 'permission': 'object_read_only'}], None, "web1: provision_credentials[0]: name: required"),
    ([{'name': 'a', 'permission': 'object_read_only'}, {'name': 'a', 'permission': 'object_read_only'}], None,
     "web1: provision_credentials[1] (a): name: used by another credential of this host"),
    ([{'name': 'a', 'permission': 'object_read_only', 'jurisdiction': 'eu',
       'buckets': [{'name': 'logs', 'jurisdiction': 'default'}]}], None,
     "web1: provision_credentials[0] (a): buckets: every bucket must be in the credential's jurisdiction 'eu'"),
    ([{'name': 'a', 'permission': 'object_read_only', 'jurisdiction': 'fedramp'}],
     {'endpoint_overrides': {'eu': 'http://127.0.0.1:9000'}},
     "web1: provision_credentials[0] (a): jurisdiction: 'fedramp' has no endpoint in provision_endpoint_overrides"),
    ([{'name': 'a', 'type': 'temporary', 'bucket': 'logs', 'ttl_seconds': 700000}], None,
     "web1: provision_credentials[0] (a): ttl_seconds must be an integer from 1 to 604800"),
    ([{'name': 'a', 'type': 'temporary', 'bucket': 'logs', 'ttl_seconds': 600, 'renew_before': 600}], None,
     "web1: provision_credentials[0] (a): renew_before: must be an integer from 0 to less than ttl_seconds (600)"),
    ([{'name': 'a', 'type': 'temporary', 'bucket': 'logs', 'parent': 'nope'}], None,
     "web1: provision_credentials (a): parent: 'nope' is not a token credential of this host"),
    ([{'name': 'a', 'permission': 'admin_read_only', 'buckets': ['logs']}], None,
     "web1: provision_credentials[0] (a): buckets: must be empty with permission admin_read_only"),
    ([{'name': 'a', 'permission': 'object_read_only', 'rclone': 'yes'}], None,
     "web1: provision_credentials[0] (a): rclone: must be a boolean"),
    ([{'name': 'a', 'permission': 'object_read_only', 'endpoint_override': 'ftp://x'}], None,
     "web1: provision_credentials[0] (a): endpoint_override: must be an http:// or https:// URL"),
    ([{'name': 'a', 'permission': 'object_read_only'}], {'account_id': 'nope'}, "web1: provision_account_id"),
    ('not a list', None, "web1: provision_credentials: must be a list of credentials"),
    ([{'name': 'a', 'permission': 'object_read_only'}, {'name': 'b', 'permission': 'object_read_only', 'profile': 'a'}],
     None, "web1: provision_credentials (b): profile: 'a' of user deploy is already written by credential 'a'"),
    ([{'name': 'a', 'type': 'temporary', 'bucket': 'logs', 'render': False}], None,
     "web1: provision_credentials (a): render: temporary credentials exist only to be written on the host"),
])
def test_bad_input_names_the_host_the_entry_and_the_field(credentials, settings, message):
    errors = errors_of(credentials, settings)
    assert any(e.startswith(message) for e in errors), errors


def held_by(plan, key_id, consistent=True, fingerprint=None, expiration=None):
    """What r2_client_files_info reports for credential 0 of ``plan`` held with ``key_id``."""
    cred = plan['credentials'][0]
    return {(cred['user'], cred['profile']): {
        'access_key_id': key_id if consistent else '', 'fingerprint': fingerprint or cred['fingerprint'],
        'expiration': expiration, 'consistent': consistent, 'problems': [] if consistent else ['rclone: ...']}}


def test_entries_carry_what_the_host_holds():
    plan = plan_of(held=held_by(plan_of(), 'a' * 32))
    entries = provision_filters.r2_provision_entries(plan)
    media = entries['tokens'][0]
    assert media['name'] == 'ansible:web1/media' and media['held_access_key_id'] == 'a' * 32
    assert media['held_fingerprint'] == media['fingerprint'] == plan['credentials'][0]['fingerprint']
    assert media['buckets'] == [{'name': 'media-eu', 'jurisdiction': 'eu'}] and media['rotate'] is False
    incoming = entries['temporary'][0]
    assert incoming['parent'] == 'ansible:web1/media' and incoming['held_access_key_id'] == ''
    assert entries['tokens'][1]['held_access_key_id'] == ''  # audit: nothing on the host yet


def test_files_that_disagree_mean_the_host_needs_the_secret_again():
    plan = plan_of(held=held_by(plan_of(), 'a' * 32, consistent=False))
    assert _provision.entries_of_host(plan)['tokens'][0]['held_access_key_id'] == ''


def test_revoke_and_rotate_settings():
    revoke = plan_of(settings={'state': 'absent'})
    entries = _provision.entries_of_host(revoke)
    assert entries['tokens'] == [{'name': 'ansible:web1/media', 'label': 'host web1, credential media',
                                  'state': 'absent'},
                                 {'name': 'ansible:web1/audit', 'label': 'host web1, credential audit',
                                  'state': 'absent'}]
    assert entries['temporary'] == []
    rotate = plan_of(settings={'rotate': True, 'rotate_only': ['media']})
    entries = _provision.entries_of_host(rotate)
    assert [t['rotate'] for t in entries['tokens']] == [True, False]
    assert entries['temporary'][0]['force'] is False


def test_render_writes_only_new_material_and_keeps_secrets_out_of_the_checks():
    plan = plan_of()
    secret, session = secrets.token_hex(32), secrets.token_urlsafe(64)
    result = {
        'ansible:web1/media': {'new_material': True, 'access_key_id': 'a' * 32, 'secret_access_key': secret,
                               'fingerprint': 'fp'},
        'ansible:web1/incoming': {'new_material': True, 'access_key_id': 'b' * 32, 'secret_access_key': secret,
                                  'session_token': session, 'expiration': '2026-11-28T10:00:00Z',
                                  'fingerprint': 'tfp'},
        'ansible:web1/audit': {'new_material': False, 'access_key_id': 'c' * 32},
    }
    render = provision_filters.r2_provision_render(plan, result)
    assert [(r['user'], [p['name'] for p in r['profiles']]) for r in render['runs']] == [
        ('deploy', ['media', 'incoming'])]
    media, incoming = render['runs'][0]['profiles']
    assert media['secret_access_key'] == secret and media['fingerprint'] == 'fp' and media['s3cmd'] is True
    assert incoming['session_token'] == session and incoming['expiration'] == '2026-11-28T10:00:00Z'
    # every file written is proved by a check that reads it
    assert [(c['name'], c['source'], c['operation'], c['bucket'], c['key']) for c in render['checks']] == [
        ('media (aws_credentials)', 'aws', 'get_object', 'media-eu', 'r2-credentials-check'),
        ('media (env_file)', 'env_file', 'get_object', 'media-eu', 'r2-credentials-check'),
        ('media (rclone)', 'rclone', 'get_object', 'media-eu', 'r2-credentials-check'),
        ('media (s3cmd)', 's3cmd', 'get_object', 'media-eu', 'r2-credentials-check'),
        ('incoming (aws_credentials)', 'aws', 'get_object', 'media-eu', 'in/r2-credentials-check'),
        ('incoming (rclone)', 'rclone', 'get_object', 'media-eu', 'in/r2-credentials-check')]
    assert render['checks'][1]['path'] == '/home/deploy/.config/r2/media.env'
    assert render['checks'][0]['credentials_file'] == '/home/deploy/.aws/credentials'
    assert render['checks'][2]['section'] == 'media'
    assert secret not in json.dumps(render['checks']) and session not in json.dumps(render['checks'])
    assert render['trials'][1]['session_token'] == session and render['trials'][1]['source'] == 'values'


def test_each_host_gets_only_its_own_result():
    plan = plan_of()
    entries = _provision.entries_of_host(plan)
    result = {'credentials': {'ansible:web1/media': {'secret_access_key': 'x' * 64},
                              'ansible:web2/media': {'secret_access_key': 'y' * 64}}, 'msg': 'boom'}
    mine = provision_filters.r2_provision_result(result, {'entries': entries, 'plan': plan})
    assert mine == {'credentials': {'ansible:web1/media': {'secret_access_key': 'x' * 64}}, 'error': 'boom',
                    'work': True}
    # converged: every entry covered, nothing new, nothing to remove: the render is skipped
    converged = {'credentials': dict((e['name'], {'new_material': False})
                                     for e in entries['tokens'] + entries['temporary'])}
    assert provision_filters.r2_provision_result(converged, {'entries': entries, 'plan': plan})['work'] is False
    rolled = dict(converged['credentials'], **{'ansible:web1/media': {'new_material': True}})
    assert provision_filters.r2_provision_result({'credentials': rolled}, {'entries': entries, 'plan': plan})['work']
    revoke = plan_of(settings={'state': 'absent'})
    assert provision_filters.r2_provision_result({'credentials': {}}, {
        'entries': _provision.entries_of_host(revoke), 'plan': revoke})['work'] is True


def test_render_in_check_mode_uses_placeholders_and_absent_removes():
    plan = plan_of()
    predicted = {'ansible:web1/media': {'new_material': True, 'access_key_id': None},
                 'ansible:web1/audit': {'new_material': True, 'access_key_id': None}}
    render = _provision.render_host(plan, predicted, check_mode=True)
    assert {p['secret_access_key'] for r in render['runs'] for p in r['profiles']} == {_provision.PLACEHOLDER}
    with pytest.raises(_provision.ProvisionError, match='host web1, credential media: the reconcile returned no'):
        _provision.render_host(plan, predicted, check_mode=False)
    revoke = plan_of(settings={'state': 'absent'})
    # a token's profile stays while the reconcile has not deleted the token
    assert [(r['user'], r['profiles']) for r in _provision.render_host(revoke, {})['runs']] == [
        ('deploy', [{'name': 'incoming', 'state': 'absent'}])]
    gone = dict((c['key'], {'action': 'deleted'}) for c in revoke['credentials'] if c['type'] == 'token')
    render = _provision.render_host(revoke, gone)
    assert [(r['user'], r['profiles']) for r in render['runs']] == [
        ('backup', [{'name': 'audit', 'state': 'absent'}]),
        ('deploy', [{'name': 'media', 'state': 'absent'}, {'name': 'incoming', 'state': 'absent'}])]
    assert render['checks'] == []


def test_admin_token_without_buckets_is_checked_by_listing_buckets():
    plan = plan_of()
    render = _provision.render_host(plan, {'ansible:web1/audit': {'new_material': True, 'access_key_id': 'c' * 32,
                                                                  'secret_access_key': 's' * 64}})
    assert [(c['name'], c['operation'], c.get('bucket')) for c in render['checks']] == [
        ('audit (aws_credentials)', 'list_buckets', None)]


def test_each_host_gets_what_was_applied_for_it_and_only_its_own_failures():
    plan = plan_of()
    inspected = {'plan': plan, 'entries': _provision.entries_of_host(plan)}
    names = sorted(e['name'] for e in inspected['entries']['tokens'] + inspected['entries']['temporary'])
    applied = dict((n, {'new_material': True, 'secret_access_key': 's' * 64}) for n in names[1:])
    result = {'msg': '2 of 9 entries failed ...', 'credentials': applied,
              'failures': {names[0]: 'tokens[0] (web1): HTTP 400', 'ansible:web9/media': 'tokens[8] (web9): HTTP 400'}}
    mine = _provision.result_for_host(result, inspected)
    assert mine['error'] == 'tokens[0] (web1): HTTP 400' and mine['work'] is True
    assert sorted(mine['credentials']) == names[1:]
    assert all(c['secret_access_key'] for c in mine['credentials'].values())
    other = _provision.result_for_host(dict(result, failures={'ansible:web9/media': 'x'}), inspected)
    assert other['error'] == ''
    assert _provision.result_for_host({}, inspected, 'web1 and web1b are one machine')['error'] == \
        'web1 and web1b are one machine'


def test_a_host_without_its_part_of_the_result_is_told_why():
    plan = plan_of()
    inspected = {'plan': plan, 'entries': _provision.entries_of_host(plan)}
    assert 'no reconcile result for this host' in _provision.coverage_problem('web1', inspected, None)
    assert 'no reconcile result for this host' in _provision.coverage_problem('web1', {}, {'credentials': {}})
    failed = {'credentials': {'ansible:web1/media': {}}, 'error': 'HTTP 429 after 5 retries'}
    # a failure still lets the host render what was applied for it, then fails it
    assert _provision.coverage_problem('web1', inspected, failed) is None
    assert _provision.failure_of('web1', failed) == 'web1: HTTP 429 after 5 retries'
    assert _provision.failure_of('web1', {'credentials': {}, 'error': ''}) is None
    names = [e['name'] for e in inspected['entries']['tokens'] + inspected['entries']['temporary']]
    assert _provision.coverage_problem('web1', inspected, {'credentials': dict((n, {}) for n in names)}) is None


# -- issue 9: one validation, whole strings -------------------------------------------

TOKEN = {'name': 'media', 'permission': 'object_read_only', 'buckets': ['media-eu'], 'jurisdiction': 'eu'}
TEMP = {'name': 'upload', 'type': 'temporary', 'bucket': 'media-eu', 'jurisdiction': 'eu'}


@pytest.mark.parametrize('suffix', HOSTILE, ids=HOSTILE_IDS)
@pytest.mark.parametrize('field, entry, settings, message', [
    ('name', TOKEN, None, 'web1: provision_credentials[0]: name: required, 1 to 64 letters'),
    ('user', TOKEN, None, 'web1: provision_credentials[0] (media): user: required (here or as provision_user), a '
                          'unix user name'),
    ('provision_user', TOKEN, None, 'web1: provision_credentials[0] (media): user: required'),
    ('profile', TOKEN, None, 'web1: provision_credentials[0] (media): profile: 1 to 64 letters'),
    ('endpoint_override', TOKEN, None, 'web1: provision_credentials[0] (media): endpoint_override: must be an '
                                       'http:// or https:// URL with a host and without a path'),
    ('provision_endpoint_overrides', TOKEN, None, 'web1: provision_endpoint_overrides.eu: must be an http:// or '
                                                  'https:// URL'),
    ('buckets', TOKEN, None, 'web1: provision_credentials[0] (media): buckets[0]: invalid bucket name <'),
    ('bucket', TEMP, None, 'web1: provision_credentials[0] (upload): bucket: invalid bucket name <'),
    ('prefixes', TEMP, None, 'web1: provision_credentials[0] (upload): prefixes[0]: must not contain control '
                             'characters'),
    ('objects', TEMP, None, 'web1: provision_credentials[0] (upload): objects[0]: must not contain control '
                            'characters'),
    ('provision_token_name_format', TOKEN, None, 'web1: provision_token_name_format: must not contain control '
                                                 'characters'),
])
def test_a_control_character_at_the_end_of_any_field_fails_the_host(suffix, field, entry, settings, message):
    entry = copy.deepcopy(entry)
    settings = dict(settings or {})
    values = {'name': 'media', 'user': 'deploy', 'profile': 'media', 'endpoint_override': 'https://r2.example.com',
              'buckets': ['media-eu'], 'bucket': 'media-eu', 'prefixes': ['in/'], 'objects': ['in/file']}
    if field == 'provision_user':
        settings['user'] = 'deploy' + suffix
    elif field == 'provision_endpoint_overrides':
        settings['endpoint_overrides'] = {'eu': 'https://r2.example.com' + suffix}
    elif field == 'provision_token_name_format':
        settings['token_name_format'] = 'ansible:{host}/{name}' + suffix
    elif isinstance(values[field], list):
        entry[field] = [values[field][0] + suffix]
    else:
        entry[field] = values[field] + suffix
    errors = errors_of([entry], settings)
    assert any(e.startswith(message) for e in errors), errors
    for error in errors:
        assert suffix not in error


def test_patterns_hold_the_whole_string():
    for pattern, good in ((_provision.NAME_RE, 'media'), (_provision.USER_RE, 'deploy$')):
        assert pattern.fullmatch(good) and not pattern.fullmatch(good + '\n')
        assert pattern.pattern[0] != '^' and pattern.pattern[-1] != '$'


def test_urls_of_the_overrides_are_checked_with_the_one_endpoint_rule():
    for url in ('https://user:pw@r2.example.com', 'https://r2.example.com?x=1', 'https://r2.example.com/path',
                'https://r2.example.com#f', 'not a url'):
        errors = errors_of([TOKEN], {'endpoint_overrides': {'eu': url}})
        assert any(e.startswith('web1: provision_endpoint_overrides.eu: must be an http:// or https:// URL with a '
                                'host and without a path') for e in errors), (url, errors)
    plan = plan_of([dict(TOKEN)], settings={'endpoint_overrides': {'eu': 'http://127.0.0.1:9000/'}}, homes={})
    assert plan['credentials'][0]['endpoint'] == 'http://127.0.0.1:9000'


def test_a_long_host_name_fails_that_host_alone_with_room_for_the_rotation():
    """inspect checked 120 characters while the reconcile needs 115: one long name failed every host's reconcile."""
    settings = dict(SETTINGS)
    fits = 'h' * (115 - len('ansible:/media'))
    assert not _provision.normalize_host(fits, [dict(TOKEN)], settings)['errors']
    errors = _provision.normalize_host(fits + 'x', [dict(TOKEN)], settings)['errors']
    assert errors == ["%sx: provision_credentials[0] (media): token name: at most 115 characters here (a rotation "
                      "adds '~next' and Cloudflare allows 120), got 116 (made from provision_token_name_format)"
                      % fits]
    # temporary credentials are no Cloudflare token: their name has no such limit
    assert not _provision.normalize_host(fits + 'x' * 20, [dict(TEMP)], settings)['errors']


@pytest.mark.parametrize('name_format, detail', [
    ('{hostname}/{name}', 'it has the field {hostname}'),
    ('{0}/{name}', 'it has the field {0}'),
    ('{}/{name}', 'it has the field {}'),
    ('{host/{name}', 'it has a single { or }'),
    ('ansible:{host}/{name}}', 'it has a single { or }'),
    ('{host.real}/{name}', 'it has the field {host.real}'),
    ('{host[0]}/{name}', 'it has the field {host[0]}'),
    ('{host!r}/{name}', '{host} has a conversion or format spec'),
    ('{host:>200}/{name}', '{host} has a conversion or format spec'),
    ('ansible:{host}', '{name} is missing'),
    ('static-{name}', '{host} is missing'),
    ('', '{host} is missing'),
    (['{host}', '{name}'], "got <a list>"),
    (5, 'got 5'),
])
def test_a_bad_token_name_format_is_one_message_naming_the_variable(name_format, detail):
    credentials = [dict(TOKEN), dict(TOKEN, name='logs'), dict(TEMP)]
    errors = errors_of(credentials, {'token_name_format': name_format})
    assert errors == ['web1: provision_token_name_format: must be a string whose fields are {host} (the inventory '
                      'hostname) and {name} (the credential name), both, and no other (for example '
                      '"ansible:{host}/{name}"; a literal brace is written {{ or }}); ' + detail]


def test_a_good_token_name_format_with_literal_braces():
    plan = plan_of([dict(TOKEN)], settings={'token_name_format': '{{r2}}-{name}@{host}'}, homes={})
    assert plan['credentials'][0]['key'] == '{r2}-media@web1'
    errors = errors_of([dict(TOKEN)], {'token_name_format': '{host}/{name}~next'})
    assert errors == ["web1: provision_credentials[0] (media): token name: must not end with '~next' (reserved for "
                      "the second token of a rotation) (made from provision_token_name_format)"]


def test_caps_on_a_host_and_its_lists():
    many = [dict(TOKEN, name='c%d' % i, profile='c%d' % i) for i in range(201)]
    assert errors_of(many) == ["web1: provision_credentials: at most 200 credentials per host (the collection's cap), "
                               "got 201"]
    errors = errors_of([dict(TEMP, prefixes=['p%d/' % i for i in range(101)])])
    assert errors == ["web1: provision_credentials[0] (upload): prefixes: at most 100 entries (the collection's cap), "
                      "got 101"]
    errors = errors_of([dict(TOKEN, buckets=['b%03d' % i for i in range(501)])])
    assert errors == ["web1: provision_credentials[0] (media): buckets: at most 500 entries (the collection's cap), "
                      "got 501"]


# -- two hosts, one machine ---------------------------------------------------------

MACHINE = {'id': 'machine-id:0f0f', 'hostname': 'box'}


def inspected_host(host, machine='same', files_id='2049:77', user='deploy', account=ACCOUNT, render_root='',
                   profile=None):
    """The inspect result of ``host``, as the r2_provision_inspect action returns it (on MACHINE by default)."""
    machine = MACHINE if machine == 'same' else machine
    settings = dict(SETTINGS, user=user, render_root=render_root)
    plan = _provision.normalize_host(host, [dict(TOKEN, profile=profile or TOKEN['name'])], settings)
    assert not plan['errors'], plan['errors']
    home = _provision.home_of(user, {user: '/home/%s' % user}, _provision.settings_with_defaults(settings))
    observed = [{'user': user, 'exists': True, 'home': home, 'files_id': files_id, 'profiles': {}}]
    _provision.apply_observed(plan, observed, settings, machine)
    return {'host': host, 'plan': plan, 'entries': _provision.entries_of_host(plan), 'account_id': account}


def test_apply_observed_keeps_the_machine_and_the_identity_of_each_users_files():
    plan = inspected_host('web1')['plan']
    assert plan['machine'] == MACHINE
    assert plan['holders'] == {'deploy': {'home': '/home/deploy', 'files_id': '2049:77'}}
    assert inspected_host('web1', machine={'id': None, 'hostname': 'box'})['plan']['machine'] is None


def test_fleet_flattens_the_entries_of_hosts_that_do_not_conflict():
    hosts = [inspected_host('web1', files_id='2049:1'), inspected_host('web2', files_id='2049:2'),
             {'host': 'failed', 'msg': 'no entries'}]
    fleet = provision_filters.r2_provision_fleet(hosts)
    assert fleet == {
        'tokens': [dict(e, account_id=ACCOUNT) for e in hosts[0]['entries']['tokens'] + hosts[1]['entries']['tokens']],
        'temporary': [],
        'hosts': ['web1', 'web2'],
        'accounts': [ACCOUNT],
        'account_hosts': {ACCOUNT: 'web1'},
        'shared_tokens': {},
        'errors': {},
        'retried': [],
    }
    assert [t['name'] for t in fleet['tokens']] == ['ansible:web1/media', 'ansible:web2/media']


def test_two_aliases_of_one_machine_and_user_are_both_left_out_by_name():
    hosts = [inspected_host('web1'), inspected_host('web1-alias'), inspected_host('db1', files_id='2049:99')]
    fleet = _provision.fleet(hosts)
    assert fleet['hosts'] == ['db1'] and [t['name'] for t in fleet['tokens']] == ['ansible:db1/media']
    assert sorted(fleet['errors']) == ['web1', 'web1-alias']
    assert fleet['errors']['web1'] == (
        "hosts web1 and web1-alias are the same machine (box) and write the same profiles of user deploy in the same "
        "folder (/home/deploy): each run would hand out one host's token and roll the other's, so neither is "
        "provisioned. Keep one of them in the inventory, or give them different users, profiles or "
        "provision_render_root")
    assert fleet['errors']['web1-alias'].startswith('hosts web1-alias and web1 are the same machine (box)')


def test_a_host_name_with_a_control_character_is_shown_escaped_in_the_conflict():
    fleet = _provision.fleet([inspected_host('web1'), dict(inspected_host('web1x'), host='web1\x1b[2J')])
    assert 'hosts web1 and web1\\x1b[2J are the same machine' in fleet['errors']['web1']
    assert '\x1b' not in ''.join(fleet['errors'].values())


def test_three_aliases_name_every_other_host():
    fleet = _provision.fleet([inspected_host('a'), inspected_host('b'), inspected_host('c')])
    assert fleet['hosts'] == [] and fleet['tokens'] == []
    assert 'hosts a and b are' in fleet['errors']['a'] and 'hosts a and c are' in fleet['errors']['a']


@pytest.mark.parametrize('other', [
    dict(machine={'id': 'machine-id:another', 'hostname': 'box'}),   # another machine
    dict(machine={'id': 'machine-id:0f0f', 'hostname': 'box2'}),     # containers sharing a boot id
    dict(user='backup', files_id='2049:78'),                           # another user
    dict(files_id='2049:78', render_root='/srv/render/web2'),          # another render root
    dict(machine=None),                                                # cannot tell: compared with none
    dict(profile='other'),                                             # the same files, other profiles
    dict(files_id=None),
])
def test_hosts_that_are_not_the_same_machine_user_and_folder_do_not_conflict(other):
    fleet = _provision.fleet([inspected_host('web1'), inspected_host('web2', **other)])
    assert fleet['errors'] == {} and fleet['hosts'] == ['web1', 'web2']


def test_fleet_collects_the_accounts_of_the_hosts_it_keeps():
    other = '1' * 32
    fleet = _provision.fleet([inspected_host('web1'), inspected_host('web2', files_id='9:9', account=other),
                              inspected_host('web3', files_id='9:10')])
    assert fleet['accounts'] == [ACCOUNT, other]
    fleet = _provision.fleet([inspected_host('web1'), inspected_host('web2', account=other)])
    assert fleet['accounts'] == []


# ------------------------------------------------------------------ reloads

RELOAD = {'command': ['systemctl', 'reload', 'uploader.service']}
AS_USER = {'name': 'sync', 'command': ['/usr/local/bin/r2-sync', '--reload'], 'run_as': 'user', 'timeout': 30}


def with_reloads(media=None, audit=None, **settings):
    credentials = copy.deepcopy(CREDENTIALS)
    for cred, reloads in ((credentials[0], media), (credentials[2], audit)):
        if reloads is not None:
            cred['reload'] = reloads
    return plan_of(credentials, settings=settings)


def test_reloads_are_normalised_and_the_role_default_applies_where_a_credential_names_none():
    plan = with_reloads(media=[RELOAD, AS_USER, {'handler': True}], reload=[{'handler': True}])
    media, incoming, audit = plan['credentials']
    assert media['reload'] == [
        {'name': 'systemctl', 'command': ['systemctl', 'reload', 'uploader.service'], 'run_as': 'root', 'timeout': 60,
         'handler': False},
        {'name': 'sync', 'command': ['/usr/local/bin/r2-sync', '--reload'], 'run_as': 'user', 'timeout': 30,
         'handler': False},
        {'name': 'handler', 'command': None, 'run_as': None, 'timeout': None, 'handler': True}]
    # provision_reload for the others; reload: [] names none
    assert incoming['reload'] == audit['reload'] == [
        {'name': 'handler', 'command': None, 'run_as': None, 'timeout': None, 'handler': True}]
    assert with_reloads(audit=[], reload=[RELOAD])['credentials'][2]['reload'] == []
    # the default does not reach a credential that writes nothing on the host
    credentials = [dict(CREDENTIALS[0], render=False)]
    assert plan_of(credentials, settings={'reload': [RELOAD]})['credentials'][0]['reload'] == []
    # adding a reload changes nothing the host holds: no roll
    assert media['fingerprint'] == plan_of()['credentials'][0]['fingerprint']


@pytest.mark.parametrize('reload, message', [
    ('systemctl reload x', 'reload: must be a list of reloads'),
    ([['systemctl']], 'reload[0]: must be a dict with command or handler'),
    ([{'command': ['true'], 'shell': True}], 'reload[0]: unknown field(s) shell (known: name, command, run_as'),
    ([{'command': ['true'], 'handler': True}], 'reload[0]: one of command (a list: the program and its arguments) '
                                               'or handler: true, not both'),
    ([{'name': 'x'}], 'reload[0]: one of command'),
    ([{'handler': 'yes'}], 'reload[0]: handler: must be a boolean'),
    ([{'handler': True, 'run_as': 'user'}], 'reload[0]: run_as: only with command'),
    ([{'command': 'systemctl reload x'}], 'reload[0]: command: must be a list of 1 to 64 strings'),
    ([{'command': []}], 'reload[0]: command: must be a list of 1 to 64 strings'),
    ([{'command': ['kill', '-HUP', 7]}], 'reload[0]: command[2]: must be a non-empty string'),
    ([{'command': ['echo', 'a\nb']}], 'reload[0]: command[1]: must be a non-empty string'),
    ([{'command': ['echo', '']}], 'reload[0]: command[1]: must be a non-empty string'),
    ([{'command': ['./reload.sh']}], 'reload[0]: command[0]: an absolute path'),
    ([{'command': ['bin/reload']}], 'reload[0]: command[0]: an absolute path'),
    ([{'command': ['/usr/../tmp/x']}], 'reload[0]: command[0]: an absolute path'),
    ([{'command': ['sh -c x']}], 'reload[0]: command[0]: a program name'),
    ([{'command': ['true'], 'run_as': 'deploy'}], "reload[0]: run_as: must be root or user (the credential's user)"),
    ([{'command': ['true'], 'timeout': 0}], 'reload[0]: timeout: must be an integer from 1 to 3600'),
    ([{'command': ['true'], 'timeout': True}], 'reload[0]: timeout: must be an integer from 1 to 3600'),
    ([{'command': ['true'], 'name': 'a\x1bb'}], 'reload[0]: name: 1 to 64 letters'),
    ([{'handler': True}] * 11, 'reload: at most 10 reloads per credential'),
])
def test_a_bad_reload_names_the_credential_and_the_field(reload, message):
    errors = errors_of([dict(CREDENTIALS[0], reload=reload)])
    assert any(e.startswith('web1: provision_credentials[0] (media): ' + message) for e in errors), errors


def test_a_bad_role_default_is_one_message_and_a_reload_needs_render():
    errors = errors_of([CREDENTIALS[0], dict(CREDENTIALS[0], name='logs')], settings={'reload': [{'command': []}]})
    assert [e for e in errors if 'provision_reload' in e] == [
        'web1: provision_reload[0]: command: must be a list of 1 to 64 strings, the program and its arguments (no '
        'shell)']
    errors = errors_of([dict(CREDENTIALS[0], render=False, reload=[RELOAD])])
    assert errors == ['web1: provision_credentials[0] (media): reload: needs render: true (nothing of this '
                      'credential is written on the host)']


def new_material(plan, names, secret=None):
    return dict((c['key'], {'new_material': True, 'access_key_id': 'a' * 32, 'action': 'rotation_started',
                            'secret_access_key': secret or secrets.token_hex(32), 'fingerprint': c['fingerprint'],
                            'session_token': 'S' * 80 if c['type'] == 'temporary' else None,
                            'expiration': '2026-11-28T10:00:00Z' if c['type'] == 'temporary' else None})
                for c in plan['credentials'] if c['name'] in names)


def test_a_copy_with_reload_commands_is_written_with_its_mark_and_each_command_runs_once():
    credentials = copy.deepcopy(CREDENTIALS)
    credentials[0]['reload'] = [RELOAD, AS_USER]
    credentials[1]['reload'] = [RELOAD, dict(AS_USER, name='sync')]   # the same commands: they run once
    credentials[2]['reload'] = [dict(AS_USER, name='sync')]           # as another user: a command of its own
    plan = plan_of(credentials)
    render = _provision.render_host(plan, new_material(plan, ('media', 'incoming', 'audit')))
    written = dict((p['name'], p) for run in render['runs'] for p in run['profiles'])
    fingerprints = dict((c['name'], c['fingerprint']) for c in plan['credentials'])
    assert written['media']['fingerprint'] == fingerprints['media'] + '.reload-pending'
    assert written['audit']['fingerprint'] == fingerprints['audit'] + '.reload-pending'
    assert render['reloads'] == {
        'commands': [
            {'name': 'systemctl', 'argv': ['systemctl', 'reload', 'uploader.service'], 'user': 'root', 'timeout': 60,
             'credentials': ['media', 'incoming']},
            {'name': 'sync', 'argv': ['/usr/local/bin/r2-sync', '--reload'], 'user': 'deploy', 'timeout': 30,
             'credentials': ['media', 'incoming']},
            {'name': 'sync #2', 'argv': ['/usr/local/bin/r2-sync', '--reload'], 'user': 'backup', 'timeout': 30,
             'credentials': ['audit']}],
        'profiles': [{'user': 'deploy', 'name': 'media', 'commands': ['systemctl', 'sync']},
                     {'user': 'deploy', 'name': 'incoming', 'commands': ['systemctl', 'sync']},
                     {'user': 'backup', 'name': 'audit', 'commands': ['sync #2']}]}
    assert _provision.module_args(render['reloads'])['commands'][2] == {
        'name': 'sync #2', 'argv': ['/usr/local/bin/r2-sync', '--reload'], 'user': 'backup', 'timeout': 30}
    # only what changed is reloaded
    render = _provision.render_host(plan, new_material(plan, ('audit',)))
    assert [c['name'] for c in render['reloads']['commands']] == ['sync']
    assert render['reloads']['profiles'] == [{'user': 'backup', 'name': 'audit', 'commands': ['sync']}]
    assert _provision.render_host(plan, {})['reloads'] == {'commands': [], 'profiles': []}
    # check mode: the same commands (the action reports them as would run)
    predicted = dict((k, {'new_material': True, 'access_key_id': None}) for k in new_material(plan, ('media',)))
    lines = _provision.reload_report(_provision.render_host(plan, predicted, check_mode=True)['reloads'])
    assert lines == ['reload systemctl (as root) would run for media', 'reload sync (as deploy) would run for media']


def test_the_handler_learns_which_credentials_changed_and_whose_without_a_secret():
    secret = secrets.token_hex(32)
    credentials = copy.deepcopy(CREDENTIALS)
    credentials[0]['reload'] = [{'handler': True}]
    credentials[1]['reload'] = [{'handler': True}, RELOAD]
    plan = plan_of(credentials)
    render = _provision.render_host(plan, new_material(plan, ('media', 'incoming', 'audit'), secret))
    assert render['changed'] == [
        {'name': 'media', 'type': 'token', 'user': 'deploy', 'profile': 'media', 'action': 'rotation_started',
         'access_key_id': 'a' * 32, 'expiration': None, 'files': plan['credentials'][0]['files']},
        {'name': 'incoming', 'type': 'temporary', 'user': 'deploy', 'profile': 'incoming',
         'action': 'rotation_started', 'access_key_id': 'a' * 32, 'expiration': '2026-11-28T10:00:00Z',
         'files': plan['credentials'][1]['files']}]
    assert secret not in json.dumps(render['changed']) and 'S' * 80 not in json.dumps(render['changed'])
    # a handler alone is no command: no mark, nothing for r2_reload
    written = dict((p['name'], p) for run in render['runs'] for p in run['profiles'])
    assert not written['media']['fingerprint'].endswith('.reload-pending')
    assert render['reloads']['profiles'] == [{'user': 'deploy', 'name': 'incoming', 'commands': ['systemctl']}]


def pending_plan(consistent=True, reloads=(RELOAD,)):
    credentials = copy.deepcopy(CREDENTIALS)
    credentials[0]['reload'] = list(reloads)
    first = plan_of(credentials)
    fingerprint = first['credentials'][0]['fingerprint']
    return plan_of(credentials, held=held_by(first, 'b' * 32, consistent=consistent,
                                             fingerprint=fingerprint + '.reload-pending'))


def test_a_copy_whose_reloads_did_not_run_is_held_but_pending():
    plan = pending_plan()
    media = plan['credentials'][0]
    assert media['reload_pending'] is True and media['held'] == ('b' * 32, media['fingerprint'], None)
    # the reconcile sees the copy as it is (no roll for the mark), once the inspect ran the reloads again
    entry = _provision.entries_of_host(plan)['tokens'][0]
    assert entry['held_access_key_id'] == 'b' * 32 and entry['held_fingerprint'] == entry['fingerprint']
    assert [c['name'] for c in _provision.pending_of(plan)] == ['media']
    spec = _provision.reload_spec(plan, _provision.pending_of(plan))
    assert spec['profiles'] == [{'user': 'deploy', 'name': 'media', 'commands': ['systemctl']}]
    assert [c['name'] for c in _provision.retry_checks(plan)] == [
        'media (aws_credentials)', 'media (env_file)', 'media (rclone)', 'media (s3cmd)']
    assert all(c['source'] != 'values' for c in _provision.retry_checks(plan))   # the files, no secret
    # files that disagree are handed out again anyway: nothing to finish
    assert _provision.pending_of(pending_plan(consistent=False)) == []
    # a mark whose credential no longer names a command: it only goes
    plan = pending_plan(reloads=())
    assert _provision.reload_spec(plan, _provision.pending_of(plan)) == {
        'commands': [], 'profiles': [{'user': 'deploy', 'name': 'media', 'commands': []}]}


def test_a_pending_copy_that_the_check_refuses_as_a_credential_counts_as_lost():
    refused = [{'name': 'media (aws_credentials)', 'failed': True, 'code': 'InvalidAccessKeyId', 'msg': 'denied'},
               {'name': 'media (rclone)', 'failed': False}]
    plan = pending_plan()
    assert _provision.judge_retry(plan, refused) is None
    assert plan['credentials'][0]['held'][0] == '' and _provision.pending_of(plan) == []
    assert _provision.entries_of_host(plan)['tokens'][0]['held_access_key_id'] == ''
    # anything else (a permission, an endpoint that does not answer): the host cannot tell, and says so
    plan = pending_plan()
    problem = _provision.judge_retry(plan, [{'name': 'media (rclone)', 'failed': True, 'code': None,
                                             'msg': 'cannot reach http://127.0.0.1:9/'}])
    assert problem == 'media (rclone): cannot reach http://127.0.0.1:9/'
    assert plan['credentials'][0]['reload_pending'] is True


def test_a_failed_reload_message_names_the_reload_the_credentials_and_what_it_means():
    credentials = copy.deepcopy(CREDENTIALS)
    credentials[0]['reload'] = [RELOAD, AS_USER]
    plan = plan_of(credentials)
    spec = _provision.render_host(plan, new_material(plan, ('media',)))['reloads']
    outcome = {'failed': True, 'commands': [
        {'name': 'systemctl', 'state': 'succeeded'},
        {'name': 'sync', 'state': 'failed', 'msg': 'exit status 2', 'output': ['a', 'b', 'c', 'refused: config']}]}
    message = _provision.reload_failure('web1', spec, outcome)
    assert message.startswith('web1: reload sync (as deploy) for media failed: exit status 2; its last output: b | c '
                              '| refused: config. The new credentials of media are written and checked, but do not '
                              'count as in use until their reloads succeed: a rotation does not finish for them '
                              '(their old token stays)'), message
    assert 'systemctl' not in message
    again = _provision.reload_failure('web1', spec, outcome, retried=True)
    assert 'were written by an earlier run and are still not in use: nothing changes for this host' in again
    assert _provision.reload_report(spec, outcome) == ['reload systemctl (as root) succeeded for media',
                                                       'reload sync (as deploy) failed for media']
    # a module that failed before any command (an unsafe file): its own message
    assert _provision.reload_failure('web1', spec, {'failed': True, 'msg': 'refusing /home/deploy/.aws'}) \
        .startswith('web1: reload systemctl (as root) for media failed: not run')


def test_the_fleet_report_names_the_reloads_an_inspect_ran_again():
    hosts = [inspected_host('web1', files_id='2049:1'), inspected_host('web2', files_id='2049:2')]
    hosts[1]['reloads'] = ['reload client (as deploy) succeeded for media']
    assert _provision.fleet(hosts)['retried'] == ['web2: reload client (as deploy) succeeded for media']


def test_a_rotation_started_by_any_run_is_tried_from_the_host_first():
    plan = plan_of()
    started = new_material(plan, ('media',))
    assert _provision.render_host(plan, started)['rotating'] is True
    rolled = dict((k, dict(v, action='rolled')) for k, v in started.items())
    assert _provision.render_host(plan, rolled)['rotating'] is False


def test_the_role_notifies_and_listens_to_the_one_documented_topic():
    role = os.path.join(os.path.dirname(_provision.__file__), '..', '..', 'roles', 'provision')
    with open(os.path.join(role, 'tasks', 'reload.yml')) as handle:
        notified = [t['notify'] for t in yaml.safe_load(handle) if 'notify' in t]
    with open(os.path.join(role, 'handlers', 'main.yml')) as handle:
        listened = [h['listen'] for h in yaml.safe_load(handle)]
    assert notified == listened == [_provision.HANDLER_TOPIC] == ['r2 credentials changed']


# -- issue 10: the report line with the schedule, the finishing pass -----------------------------------------

def test_the_report_line_names_actions_requests_the_schedule_and_the_failure():
    result = {'summary': {'unchanged': 2, 'rotation_started': 1}, 'api_requests': {'GET': 2, 'POST': 1, 'total': 3},
              'schedule': {'due': ['ansible:web1/media'], 'next_due_on': '2027-03-01T10:00:00Z'}}
    assert _provision.reconcile_report(result, 3) == (
        '3 host(s): rotation_started 1, unchanged 2; Cloudflare API requests GET 2, POST 1, total 3; rotation due '
        'for 1 token(s): ansible:web1/media; next rotation due on 2027-03-01T10:00:00Z')
    assert _provision.reconcile_report({'summary': {}, 'api_requests': {}}, 2) == \
        '2 host(s): nothing to do; Cloudflare API requests '
    failed = _provision.reconcile_report({'msg': 'token_quota: too many', 'failed': False}, 1, ['web4: reload x'])
    assert failed == ('1 host(s): nothing done; Cloudflare API requests ; FAILED: token_quota: too many; reloads of '
                      'copies an earlier run wrote, run again first: web4: reload x')


def test_finishing_names_the_hosts_that_took_a_rotations_new_token():
    hostvars = {'web1': {'__provision_result': {'rotation_started': True}}, 'web2': {'__provision_result': {}},
                'web3': {}, 'web4': {'__provision_result': None}}
    assert _provision.finishing(['web1', 'web2', 'web3', 'web4', 'gone'], hostvars) == ['web1']


# -- shared mode ----------------------------------------------------------------------------------------------------

SHARED_TOKENS = {'media-writers': {'permission': 'object_read_write', 'jurisdiction': 'eu', 'buckets': ['media-eu']}}
SHARED_CRED = {'name': 'upload', 'shared': 'media-writers', 'bucket': 'media-eu', 'prefixes': ['{host}/in/']}


def shared_plan(host='web1', credentials=None, **settings):
    settings = dict(dict(SETTINGS, shared_tokens=SHARED_TOKENS), **settings)
    plan = _provision.normalize_host(host, copy.deepcopy(credentials or [SHARED_CRED]), settings)
    if not plan['errors']:
        _provision.apply_observed(plan, [{'user': 'deploy', 'exists': True, 'home': '/home/deploy', 'profiles': {}}],
                                  settings, None)
    return plan


def test_a_shared_credential_is_the_hosts_own_temporary_credential_minted_from_the_shared_token():
    plan = shared_plan('web7')
    assert not plan['errors'], plan['errors']
    cred = plan['credentials'][0]
    # type, jurisdiction and permission come from the shared token; {host} is the inventory hostname
    assert (cred['type'], cred['jurisdiction'], cred['permission']) == ('temporary', 'eu', 'object_read_write')
    assert cred['prefixes'] == ['web7/in/'] and cred['parent_key'] == 'ansible:shared/media-writers'
    assert cred['key'] == 'ansible:web7/upload'
    entries = _provision.entries_of_host(plan)
    assert entries['tokens'] == []
    assert entries['temporary'][0]['parent'] == 'ansible:shared/media-writers'
    # the shared token: no holder (never written on a host), so a rotation rolls it in place
    assert entries['shared'] == [{
        'name': 'ansible:shared/media-writers', 'label': 'shared token media-writers', 'state': 'present',
        'permission': 'object_read_write', 'jurisdiction': 'eu', 'buckets': [{'name': 'media-eu', 'jurisdiction': 'eu'}],
        'ip_allow': None, 'ip_deny': None, 'rotate': False, 'rotate_after': None, 'held_access_key_id': None,
        'fingerprint': '', 'held_fingerprint': None}]


@pytest.mark.parametrize('cred, settings, message', [
    (dict(SHARED_CRED, shared='nope'), {}, "upload): shared: 'nope' is not defined in provision_shared_tokens"),
    (dict(SHARED_CRED, shared='a b'), {}, 'upload): shared: the name of a shared token of provision_shared_tokens'),
    (dict(SHARED_CRED, parent='media'), {}, 'upload): parent: give parent or shared, not both'),
    (dict(SHARED_CRED, bucket='other'), {}, "upload): bucket: 'other' (eu) is not among the buckets of its parent "
                                            "token 'ansible:shared/media-writers' (provision_shared_tokens."
                                            "media-writers)"),
    (dict(SHARED_CRED, permission='admin_read_write'), {}, 'upload): permission: admin_read_write is higher than '
                                                           'its parent token'),
    (dict(SHARED_CRED, prefixes=['{host}\n/']), {}, 'upload): prefixes'),
    (SHARED_CRED, {'shared_tokens': {'media-writers': {'permission': 'object_read_write', 'colour': 'blue'}}},
     'upload): provision_shared_tokens.media-writers: unknown field(s) colour'),
    (SHARED_CRED, {'shared_tokens': {'media-writers': {'buckets': ['media-eu']}}},
     'upload): provision_shared_tokens.media-writers: permission: required, one of'),
    (SHARED_CRED, {'shared_tokens': {'media-writers': {'permission': 'object_read_write', 'state': 'absent'}}},
     'upload): shared: provision_shared_tokens.media-writers has state absent'),
    (SHARED_CRED, {'shared_token_name_format': 'shared/{host}'},
     'provision_shared_token_name_format: must be a string whose one field is {name}'),
    (dict(SHARED_CRED, type='token'), {}, 'unknown field(s) bucket, prefixes, shared for type token'),
], ids=['undefined', 'bad-name', 'with-parent', 'bucket-outside', 'higher-permission', 'control-in-prefix',
        'unknown-field', 'no-permission', 'absent-token', 'bad-format', 'token-type'])
def test_a_shared_credential_that_cannot_be_minted_fails_its_host_with_one_message(cred, settings, message):
    errors = shared_plan(credentials=[cred], **settings)['errors']
    assert len(errors) == 1 and message in errors[0], errors


def test_a_shared_token_whose_definition_says_absent_is_deleted_by_a_host_that_sees_it():
    defs = dict(SHARED_TOKENS, old={'permission': 'object_read_only', 'state': 'absent'})
    plan = shared_plan(shared_tokens=defs)
    assert not plan['errors']
    assert [e['name'] for e in _provision.entries_of_host(plan)['shared']] == [
        'ansible:shared/media-writers', 'ansible:shared/old']
    assert _provision.entries_of_host(plan)['shared'][1] == {
        'name': 'ansible:shared/old', 'label': 'shared token old', 'state': 'absent'}


def test_a_revocation_of_a_host_leaves_the_shared_token_to_the_others():
    plan = shared_plan(state='absent')
    assert not plan['errors'] and plan['credentials'][0]['state'] == 'absent'
    assert _provision.entries_of_host(plan) == {'tokens': [], 'temporary': [], 'shared': []}


def test_a_rotation_rolls_the_shared_tokens_it_names():
    assert _provision.entries_of_host(shared_plan(rotate=True))['shared'][0]['rotate'] is True
    assert _provision.entries_of_host(shared_plan(rotate=True, rotate_only=['other']))['shared'][0]['rotate'] is False
    named = shared_plan(rotate=True, rotate_only=['media-writers'])
    assert _provision.entries_of_host(named)['shared'][0]['rotate'] is True


def shared_host(host, account=ACCOUNT, shared_tokens=None):
    plan = shared_plan(host, shared_tokens=shared_tokens or SHARED_TOKENS)
    assert not plan['errors'], plan['errors']
    return {'host': host, 'plan': plan, 'entries': _provision.entries_of_host(plan), 'account_id': account}


def test_the_fleet_reconciles_a_shared_token_once_for_every_host_that_names_it():
    fleet = provision_filters.r2_provision_fleet([shared_host('web%d' % n) for n in range(1, 4)])
    assert fleet['errors'] == {}
    assert [e['name'] for e in fleet['tokens']] == ['ansible:shared/media-writers']
    assert fleet['tokens'][0]['account_id'] == ACCOUNT
    assert [e['name'] for e in fleet['temporary']] == ['ansible:web%d/upload' % n for n in range(1, 4)]
    assert set(e['parent'] for e in fleet['temporary']) == {'ansible:shared/media-writers'}


def test_signing_keys_turn_the_mints_from_their_shared_token_into_local_signing():
    fleet = provision_filters.r2_provision_fleet([shared_host('web1'), inspected_host('web2', files_id='2049:2')])
    assert fleet['shared_tokens'] == {'ansible:shared/media-writers': 'media-writers'}
    key = secrets.token_hex(32)
    signed = provision_filters.r2_provision_signing(fleet, {'media-writers': key, 'unused': 'b' * 64})
    shared = [e for e in signed['tokens'] if e['name'] == 'ansible:shared/media-writers'][0]
    assert shared['signing_key'] == key
    assert [e for e in signed['tokens'] if e['name'] != shared['name']] == [
        e for e in fleet['tokens'] if e['name'] != shared['name']]
    assert [(e['name'], e['signing'], e['endpoint_url']) for e in signed['temporary']] == [
        ('ansible:web1/upload', 'local', 'https://%s.eu.r2.cloudflarestorage.com' % ACCOUNT)]
    # without a key nothing changes, and the fleet itself holds no key
    assert provision_filters.r2_provision_signing(fleet, {}) == {'tokens': fleet['tokens'],
                                                                 'temporary': fleet['temporary']}
    assert key not in json.dumps(fleet)
    with pytest.raises(Exception, match='provision_shared_signing_keys: must be a dict'):
        provision_filters.r2_provision_signing(fleet, ['x'])


def test_hosts_that_disagree_on_a_shared_token_or_its_account_are_left_out():
    other = {'media-writers': dict(SHARED_TOKENS['media-writers'], permission='object_read_only')}
    fleet = provision_filters.r2_provision_fleet([shared_host('web1'), shared_host('web2', shared_tokens=other)])
    assert fleet['hosts'] == ['web1'] and list(fleet['errors']) == ['web2']
    assert fleet['errors']['web2'] == (
        "shared token 'ansible:shared/media-writers': hosts web1 and web2 give it different definitions "
        "(provision_shared_tokens must be the same for every host that names it, for example set in "
        "group_vars/all)")
    elsewhere = 'fedcba9876543210fedcba9876543210'
    fleet = provision_filters.r2_provision_fleet([shared_host('web1'), shared_host('db1', account=elsewhere)])
    assert 'hosts web1 and db1 give it accounts %s and %s: a shared token lives in one account' % (
        ACCOUNT, elsewhere) in fleet['errors']['db1']


def test_accounts_and_lock_keys_come_from_each_accounts_hosts():
    elsewhere = 'fedcba9876543210fedcba9876543210'
    hostvars = {'web1': {'provision_account_id': ACCOUNT},
                'db1': {'provision_account_id': elsewhere, 'provision_api_token': 'cfat_x' * 8,
                        'provision_api_url': 'https://gw.example.test/client/v4', 'provision_token_quota': 900},
                'db2': {'provision_account_id': elsewhere.upper()},
                'lone': {}}
    assert provision_filters.r2_provision_accounts({ACCOUNT: 'web1', elsewhere: 'db1'}, hostvars) == [
        {'account_id': ACCOUNT},
        {'account_id': elsewhere, 'api_token': 'cfat_x' * 8, 'api_url': 'https://gw.example.test/client/v4',
         'token_quota': 900}]
    assert provision_filters.r2_provision_lock_keys(['web1', 'db1', 'db2', 'lone'], hostvars, 'account',
                                                    ACCOUNT.upper()) == ['account-%s' % ACCOUNT,
                                                                         'account-%s' % elsewhere]
