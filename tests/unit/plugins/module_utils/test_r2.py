# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The R2 domain model: permissions, resources, validation, endpoints, S3 secrets, TokenStore."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import hashlib

import pytest
import requests

from ansible_collections.cloudflare_r2.credentials.plugins.module_utils import _r2, _temporary
from ansible_collections.cloudflare_r2.credentials.plugins.module_utils._api import CloudflareClient
from ansible_collections.cloudflare_r2.credentials.tests.unit.utils.fake_cloudflare import FakeCloudflare
from ansible_collections.cloudflare_r2.credentials.tests.unit.utils.hostile_text import HOSTILE, HOSTILE_IDS

ACCOUNT = '0123456789abcdef0123456789abcdef'


def test_permission_partial_order():
    assert _r2.permission_covers('admin_read_write', 'object_read_write')
    assert _r2.permission_covers('admin_read_only', 'object_read_only')
    assert _r2.permission_covers('object_read_write', 'object_read_only')
    assert not _r2.permission_covers('admin_read_only', 'object_read_write')
    assert not _r2.permission_covers('object_read_write', 'admin_read_only')
    assert not _r2.permission_covers('object_read_only', 'object_read_write')
    for permission in _r2.PERMISSIONS:
        assert _r2.permission_covers(permission, permission)
        assert _r2.permission_covers('admin_read_write', permission)
    assert _r2.to_api_permission('object_read_only') == 'object-read-only'


def test_resources_for_each_shape():
    assert _r2.build_resources(ACCOUNT, 'admin_read_only', None) == {'com.cloudflare.api.account.%s' % ACCOUNT: '*'}
    assert _r2.build_resources(ACCOUNT, 'object_read_only', [('eu', 'my-eu-bucket')]) == {
        'com.cloudflare.edge.r2.bucket.%s_eu_my-eu-bucket' % ACCOUNT: '*'}
    assert _r2.build_resources(ACCOUNT, 'object_read_write', None) == {
        'com.cloudflare.api.account.%s' % ACCOUNT: {'com.cloudflare.edge.r2.bucket.*': '*'}}


@pytest.mark.parametrize('permission', _r2.PERMISSIONS)
@pytest.mark.parametrize('buckets', [None, [('default', 'a-b'), ('eu', 'logs'), ('fedramp', 'gov-1')]])
def test_policies_round_trip(permission, buckets):
    if permission in _r2.ADMIN_PERMISSIONS and buckets:
        return
    names = _r2.PERMISSION_GROUPS[permission]
    ids = ['%032x' % index for index in range(len(names))]
    policies = _r2.build_policies(ACCOUNT, permission, buckets, ids)
    assert policies[0]['permission_groups'] == [{'id': group_id} for group_id in ids]
    by_id = dict(zip(ids, names))
    assert _r2.decode_policies(policies, ACCOUNT, by_id) == (permission, sorted(buckets) if buckets else None)


def test_admin_levels_carry_the_data_catalog_groups_and_read_back_either_form():
    """The dashboard's Admin levels = storage + Data Catalog (changelog 2026-07-09); 0.3.0 wrote storage alone."""
    assert _r2.PERMISSION_GROUPS['admin_read_write'] == ('Workers R2 Storage Write', 'Workers R2 Data Catalog Write')
    assert _r2.PERMISSION_GROUPS['admin_read_only'] == ('Workers R2 Storage Read', 'Workers R2 Data Catalog Read')
    account = {'com.cloudflare.api.account.%s' % ACCOUNT: '*'}
    for level, (storage, catalog) in (('admin_read_write', _r2.PERMISSION_GROUPS['admin_read_write']),
                                      ('admin_read_only', _r2.PERMISSION_GROUPS['admin_read_only'])):
        both = {'effect': 'allow', 'permission_groups': [{'name': catalog}, {'name': storage}], 'resources': account}
        legacy = dict(both, permission_groups=[{'name': storage}])
        assert _r2.decode_policies([both], ACCOUNT) == (level, None)
        assert _r2.decode_policies([legacy], ACCOUNT) == (level, None)
        # the two forms compare different, so that a 0.3.0 token is brought in line (one PUT)
        spec = {'permission': level, 'buckets': None}
        assert _r2.comparable_token(_r2.decode_token({'policies': [both]}, ACCOUNT, 'account')) == \
            _r2.comparable_token(spec)
        assert _r2.comparable_token(_r2.decode_token({'policies': [legacy]}, ACCOUNT, 'account')) != \
            _r2.comparable_token(spec)
        # the catalog group alone, or mixed with another level, is not a level of this collection
        assert _r2.decode_policies([dict(both, permission_groups=[{'name': catalog}])], ACCOUNT) == (None, None)
    mixed = [{'name': 'Workers R2 Storage Read'}, {'name': 'Workers R2 Data Catalog Write'}]
    assert _r2.decode_policies([{'effect': 'allow', 'permission_groups': mixed, 'resources': account}], ACCOUNT) \
        == (None, None)


def test_decode_foreign_policies_gives_no_permission():
    other_account = 'f' * 32
    assert _r2.decode_policies([], ACCOUNT) == (None, None)
    assert _r2.decode_policies([{'effect': 'allow', 'permission_groups': [{'id': 'x', 'name': 'Zone Read'}],
                                 'resources': {'com.cloudflare.api.account.zone.x': '*'}}], ACCOUNT) == (None, None)
    assert _r2.decode_policies([{'effect': 'allow', 'permission_groups': [{'name': 'Workers R2 Storage Read'}],
                                 'resources': {'com.cloudflare.api.account.%s' % other_account: '*'}}], ACCOUNT) \
        == (None, None)
    assert _r2.decode_policies([{'effect': 'deny', 'permission_groups': [{'name': 'Workers R2 Storage Read'}],
                                 'resources': {'com.cloudflare.api.account.%s' % ACCOUNT: '*'}}], ACCOUNT) \
        == (None, None)


@pytest.mark.parametrize('name', ['ab', 'a' * 64, 'Upper', '-lead', 'trail-', 'under_score', 'dot.ted', '', None, 3])
def test_invalid_bucket_names(name):
    with pytest.raises(_r2.R2ValueError) as err:
        _r2.normalize_buckets([name])
    assert 'buckets[0]' in str(err.value) and '3-63 characters' in str(err.value)


def test_bucket_normalization():
    assert _r2.normalize_buckets(['zzz', {'name': 'abc', 'jurisdiction': 'eu'}, 'a' * 63], 'fedramp') == [
        ('eu', 'abc'), ('fedramp', 'a' * 63), ('fedramp', 'zzz')]
    with pytest.raises(_r2.R2ValueError, match=r"buckets\[1\].jurisdiction: must be a jurisdiction"):
        _r2.normalize_buckets(['abc', {'name': 'abc', 'jurisdiction': 'US'}])
    with pytest.raises(_r2.R2ValueError, match='listed twice'):
        _r2.normalize_buckets(['abc', {'name': 'abc'}])
    with pytest.raises(_r2.R2ValueError, match='unknown key'):
        _r2.normalize_buckets([{'name': 'abc', 'region': 'x'}])


@pytest.mark.parametrize('value', ['0123', 'g' * 32, ACCOUNT + '0', ''])
def test_invalid_account_ids(value):
    with pytest.raises(_r2.R2ValueError, match='account_id'):
        _r2.validate_account_id(value)


def test_account_id_is_lowercased():
    assert _r2.validate_account_id(ACCOUNT.upper()) == ACCOUNT


def test_cidrs():
    assert _r2.normalize_cidrs(['192.0.2.7', '2001:db8::/32', '198.51.100.9/24'], 'ip_allow') == [
        '192.0.2.7/32', '198.51.100.0/24', '2001:db8::/32']
    with pytest.raises(_r2.R2ValueError, match=r"ip_deny\[1\]: '300.1.1.1/8' is not a valid"):
        _r2.normalize_cidrs(['10.0.0.0/8', '300.1.1.1/8'], 'ip_deny')


def test_times():
    assert _r2.normalize_time('2030-01-02T03:04:05', 'expires_on') == '2030-01-02T03:04:05Z'
    assert _r2.normalize_time('2030-01-02T04:04:05+01:00', 'expires_on') == '2030-01-02T03:04:05Z'
    with pytest.raises(_r2.R2ValueError, match='expires_on: .* is not an RFC 3339'):
        _r2.normalize_time('next tuesday', 'expires_on')
    with pytest.raises(_r2.R2ValueError, match='expires_on must be in the future'):
        _r2.validate_validity('2001-01-01T00:00:00Z', None)
    with pytest.raises(_r2.R2ValueError, match=r'expires_on \(.*\) must be after not_before'):
        _r2.validate_validity('2030-01-01T00:00:00Z', '2030-01-01T00:00:00Z')
    now = datetime.datetime(2029, 1, 1, tzinfo=datetime.timezone.utc)
    _r2.validate_validity('2030-01-01T00:00:00Z', '2029-06-01T00:00:00Z', now=now)


def test_token_name_limit():
    assert _r2.validate_token_name('x' * 120)
    with pytest.raises(_r2.R2ValueError, match='name must be at most 120 characters'):
        _r2.validate_token_name('x' * 121)


def test_endpoints():
    assert _r2.endpoint_url(ACCOUNT) == 'https://%s.r2.cloudflarestorage.com' % ACCOUNT
    assert _r2.endpoint_url(ACCOUNT, 'eu') == 'https://%s.eu.r2.cloudflarestorage.com' % ACCOUNT
    assert _r2.endpoint_url(ACCOUNT, 'fedramp') == 'https://%s.fedramp.r2.cloudflarestorage.com' % ACCOUNT
    assert _r2.endpoint_url(ACCOUNT, 'us') == 'https://%s.us.r2.cloudflarestorage.com' % ACCOUNT
    assert _r2.take_warnings() == []
    for bad in ('EU', 'e', 'eu-west', 'eu\n', '', None):
        with pytest.raises(_r2.R2ValueError, match='jurisdiction: must be a jurisdiction, a lowercase name'):
            _r2.endpoint_url(ACCOUNT, bad)
    assert sorted(_r2.endpoints_for(ACCOUNT, 'object_read_only', [('eu', 'x')])) == ['eu']
    assert _r2.endpoints_for(ACCOUNT, 'object_read_only', [('us', 'x'), ('default', 'y')]) == {
        'default': 'https://%s.r2.cloudflarestorage.com' % ACCOUNT, 'us': 'https://%s.us.r2.cloudflarestorage.com' % ACCOUNT}
    assert sorted(_r2.endpoints_for(ACCOUNT, 'object_read_only', None)) == ['default', 'eu', 'fedramp', 'us']
    assert sorted(_r2.endpoints_for(ACCOUNT, 'admin_read_only', None)) == ['default', 'eu', 'fedramp', 'us']


def test_a_jurisdiction_cloudflare_adds_later_is_used_with_one_warning():
    assert _r2.endpoint_url(ACCOUNT, 'apac') == 'https://%s.apac.r2.cloudflarestorage.com' % ACCOUNT
    _r2.normalize_buckets(['media', {'name': 'logs', 'jurisdiction': 'apac'}], 'apac')
    warnings = _r2.take_warnings()
    assert len(warnings) == 1 and "'apac' is not a jurisdiction this collection knows (default, eu, fedramp, us)" \
        in warnings[0]
    assert _r2.take_warnings() == []
    # the known ones first, in their order, then the others by name
    assert sorted(['zz', 'us', 'apac', 'default', 'eu'], key=_r2.jurisdiction_order) == \
        ['default', 'eu', 'us', 'apac', 'zz']
    key = 'com.cloudflare.edge.r2.bucket.%s_apac_media' % ACCOUNT
    policy = {'effect': 'allow', 'permission_groups': [{'name': 'Workers R2 Storage Bucket Item Read'}],
              'resources': {key: '*'}}
    assert _r2.decode_policies([policy], ACCOUNT) == ('object_read_only', [('apac', 'media')])


@pytest.mark.parametrize('value,seconds', [(45, 45), ('45', 45), ('45s', 45), ('30m', 1800), ('12h', 43200),
                                           ('90d', 7776000), ('2w', 1209600)])
def test_durations(value, seconds):
    assert _r2.parse_duration(value, 'rotate_after') == seconds
    assert _r2.parse_duration(_r2.format_duration(seconds), 'x') == seconds


@pytest.mark.parametrize('value', ['90 d', '90D', '-1', -5, '1.5d', 'd', '90days', True, [90], '90d\n', 0, '0d'])
def test_bad_durations_name_the_field(value):
    with pytest.raises(_r2.R2ValueError, match='rotate_after: must be a duration: a positive number of seconds'):
        _r2.parse_duration(value, 'rotate_after')
    assert _r2.parse_duration(None, 'rotate_after') is None
    assert _r2.parse_duration(0, 'x', allow_zero=True) == 0


def test_s3_secret_is_sha256_hex_of_value():
    value = 'cfat_' + 'k3J9' * 10 + '0a1b2c3d'
    assert _r2.s3_secret(value) == hashlib.sha256(value.encode()).hexdigest()
    assert _r2.s3_credentials('id1', value) == {'access_key_id': 'id1', 'secret_access_key': _r2.s3_secret(value)}
    assert len(_r2.s3_secret(value)) == 64


def test_condition_reads_both_spellings():
    assert _r2.condition_ips({'request.ip': {'in': ['10.0.0.0/8']}}) == (['10.0.0.0/8'], [])
    assert _r2.condition_ips({'request_ip': {'not_in': ['10.0.0.0/8']}}) == ([], ['10.0.0.0/8'])
    assert _r2.build_condition(['10.0.0.0/8'], []) == {'request_ip': {'in': ['10.0.0.0/8']}}


def store_with_fake(retries=3):
    fake = FakeCloudflare(ACCOUNT)
    client = CloudflareClient('cfat_' + 'x' * 45, api_url='https://api.test/client/v4', session=fake.session(),
                              sleep=lambda s: None, retries=retries)
    return fake, _r2.TokenStore(client, ACCOUNT, 'account')


SPEC = {'name': 'n1', 'permission': 'object_read_only', 'buckets': [('eu', 'abc')], 'ip_allow': [], 'ip_deny': [],
        'expires_on': None, 'not_before': None}


def test_create_after_uncertain_timeout_adopts_the_created_token():
    fake, store = store_with_fake()

    def applied_then_timeout(fake_cf, method, path, params, body):
        fake_cf.route(method, path, params, body)  # applied on the server, but the answer never arrived
        raise requests.exceptions.ReadTimeout('read timed out')

    fake.script.append(('POST', r'/tokens$', applied_then_timeout))
    token = store.create(SPEC)
    assert len(fake.tokens) == 1
    only = list(fake.tokens.values())[0]
    assert token['id'] == only['id'] and token['value'] == only['_value']
    methods = [(c[0], c[1].rsplit('/', 1)[-1]) for c in fake.calls]
    assert methods.count(('POST', 'tokens')) == 1 and ('PUT', 'value') in methods


def test_create_after_uncertain_failure_that_did_not_apply_retries_once_more():
    fake, store = store_with_fake()
    fake.script.append(('POST', r'/tokens$', requests.exceptions.ReadTimeout('read timed out')))
    token = store.create(SPEC)
    assert len(fake.tokens) == 1 and token['value']
    assert [c[0] for c in fake.calls if c[1].endswith('/tokens')].count('POST') == 2


def test_permission_group_resolved_once_per_store():
    fake, store = store_with_fake()
    store.create(dict(SPEC, name='a'))
    store.create(dict(SPEC, name='b'))
    assert sum(1 for c in fake.calls if c[1].endswith('permission_groups')) == 1


def test_list_includes_expired_and_paginates():
    fake, store = store_with_fake()
    for i in range(120):
        fake.add_token('t%d' % i)
    assert len(store.list()) == 120
    lists = [c for c in fake.calls if c[0] == 'GET']
    assert len(lists) == 3 and all(c[2]['include_expired'] == 'true' for c in lists)


def test_duplicate_error_lists_ids():
    fake, store = store_with_fake()
    a = fake.add_token('dup')
    b = fake.add_token('dup')
    err = _r2.DuplicateTokenError('dup', store.find('dup'))
    assert a['id'] in str(err) and b['id'] in str(err) and 'Nothing was changed' in str(err)


# -- issue 9: one validation, whole strings -------------------------------------

def refused(call, *args, **kwargs):
    with pytest.raises(_r2.R2ValueError) as error:
        call(*args, **kwargs)
    return str(error.value)


@pytest.mark.parametrize('suffix', HOSTILE, ids=HOSTILE_IDS)
def test_every_validator_refuses_a_control_character_at_the_end(suffix):
    """re.match with $ let 'value\\n' through; every pattern now holds the whole string."""
    assert 'buckets: invalid bucket name <' in refused(_r2.validate_bucket_name, 'media-eu' + suffix)
    assert 'account_id must be 32 hexadecimal characters' in refused(_r2.validate_account_id, ACCOUNT + suffix)
    assert 'parent_access_key_id must be 32 hexadecimal characters' in refused(_r2.validate_token_id, 'a' * 32 + suffix)
    assert 'name: must not contain control characters' in refused(_r2.validate_token_name, 'web1-media' + suffix)
    assert 'prefixes[1]: must not contain control characters' in refused(
        _temporary.validate_string_list, ['ok/', 'in/' + suffix], 'prefixes')
    assert 'ip_allow[0]: <' in refused(_r2.normalize_cidrs, ['192.0.2.0/24' + suffix], 'ip_allow')
    assert 'expires_on: <' in refused(_r2.normalize_time, '2030-01-01T00:00:00Z' + suffix, 'expires_on')
    assert 'endpoint_url: must be an http:// or https:// URL' in refused(
        _r2.validate_endpoint, 'https://r2.example.com' + suffix)


@pytest.mark.parametrize('suffix', HOSTILE, ids=HOSTILE_IDS)
def test_messages_never_show_a_value_with_a_control_character(suffix):
    for message in (refused(_r2.validate_bucket_name, 'media' + suffix, 'bucket'),
                    refused(_r2.validate_token_name, 'media' + suffix),
                    refused(_r2.normalize_buckets, [{'name': 'ok-bucket', 'jurisdiction': 'eu' + suffix}]),
                    refused(_temporary.validate_actions, ['GetObject' + suffix])):
        assert suffix not in message and repr(suffix)[1:-1] not in message and 'media' not in message


def test_shown_is_the_repr_of_plain_values_and_the_length_of_others():
    assert _r2.shown('media') == "'media'" and _r2.shown('media', quote=False) == 'media'
    assert _r2.shown('a\x1b[31mb') == '<7 characters not shown>'
    assert _r2.shown('x' * 500) == '<500 characters not shown>'
    assert _r2.shown(5) == '5' and _r2.shown({'a': 1}) == '<a dict>'


def test_token_names_surrounding_whitespace_and_the_reserved_suffix():
    assert _r2.validate_token_name('web1 media') == 'web1 media'
    for name in (' web1', 'web1 ', '\u00a0web1'):
        assert refused(_r2.validate_token_name, name) == 'name: must not begin or end with whitespace'
    assert "must not end with '~next' (reserved for the second token of a rotation)" in refused(
        _r2.validate_token_name, 'web1:media~next')
    assert _r2.validate_token_name('web1:media~nextdoor')
    assert refused(_r2.validate_token_name, '  ') == 'name must not be empty'
    assert refused(_r2.validate_token_name, None, 'tokens[0].name') == 'tokens[0].name must not be empty'


def test_token_names_with_room_for_the_rotation():
    assert _r2.validate_token_name('x' * 115, rotation_room=True)
    assert _r2.validate_token_name('x' * 120)
    message = refused(_r2.validate_token_name, 'x' * 116, 'token name', rotation_room=True)
    assert message == ("token name: at most 115 characters here (a rotation adds '~next' and Cloudflare allows 120), "
                       "got 116")
    assert _r2.NEXT_SUFFIX == '~next' and _r2.TOKEN_NAME_MAX - len(_r2.NEXT_SUFFIX) == 115


@pytest.mark.parametrize('value', ['abc?x=1', '../../../user/tokens/verify', 'a' * 31, 'a' * 33, 'g' * 32,
                                   'a' * 31 + '/', '', None, 32])
def test_parent_ids_are_32_hexadecimal_characters(value):
    message = refused(_r2.validate_token_id, value)
    assert message.startswith('parent_access_key_id must be 32 hexadecimal characters (a Cloudflare token id')
    if isinstance(value, str) and value:
        assert value not in message


@pytest.mark.parametrize('url', ['not a url', 'https://', 'ftp://r2.example.com', 'https://user:pw@r2.example.com',
                                 'https://r2.example.com?x=1', 'https://r2.example.com/#frag', 'https://r2.example.com:0',
                                 'https://r2.example.com:99999', 'https://r2 .example.com', '//r2.example.com', 5])
def test_endpoints_given_by_the_user(url):
    assert refused(_r2.validate_endpoint, url).startswith(
        'endpoint_url: must be an http:// or https:// URL with a host, without user name or password, query')


def test_good_endpoints_and_the_path_rule():
    assert _r2.validate_endpoint('https://r2.example.com/') == 'https://r2.example.com'
    assert _r2.validate_endpoint('http://127.0.0.1:9000/s3/') == 'http://127.0.0.1:9000/s3'
    assert _r2.validate_endpoint('https://[::1]:8443') == 'https://[::1]:8443'
    assert _r2.validate_endpoint('http://127.0.0.1:9000/', 'endpoint_override', path=False) == 'http://127.0.0.1:9000'
    assert 'endpoint_override: must be an http:// or https:// URL with a host and without a path' in refused(
        _r2.validate_endpoint, 'http://127.0.0.1:9000/s3', 'endpoint_override', path=False)


def test_list_caps_name_the_field_the_cap_and_the_count():
    assert refused(_temporary.validate_paths, ['p/'] * 101, None) == \
        "prefixes: at most 100 entries (the collection's cap), got 101"
    assert refused(_temporary.validate_paths, None, ['o'] * 20000) == \
        "objects: at most 100 entries (the collection's cap), got 20000"
    assert _temporary.validate_paths(['p/'] * 100, ['o'] * 100) == (['p/'] * 100, ['o'] * 100)
    assert refused(_r2.normalize_buckets, ['b%03d' % i for i in range(501)]) == \
        "buckets: at most 500 entries (the collection's cap), got 501"
    assert refused(_r2.normalize_cidrs, ['10.0.0.%d' % (i % 250) for i in range(101)], 'ip_deny') == \
        "ip_deny: at most 100 entries (the collection's cap), got 101"


def test_bucket_keys_of_the_api_are_read_whole():
    key = 'com.cloudflare.edge.r2.bucket.%s_eu_media' % ACCOUNT
    group = {'name': 'Workers R2 Storage Bucket Item Read'}
    policy = {'effect': 'allow', 'permission_groups': [group], 'resources': {key: '*'}}
    assert _r2.decode_policies([policy], ACCOUNT) == ('object_read_only', [('eu', 'media')])
    policy['resources'] = {key + '\n': '*'}
    assert _r2.decode_policies([policy], ACCOUNT) == (None, None)
