# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""r2_temp_credentials (API and local signing) and r2_token's bucket pre-flight, against the fake API."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import hashlib
import hmac
import json
import time

import pytest

from ansible_collections.cloudflare_r2.credentials.plugins.module_utils import _r2
from ansible_collections.cloudflare_r2.credentials.plugins.modules import r2_temp_credentials, r2_token
from ansible_collections.cloudflare_r2.credentials.tests.unit.plugins.modules.test_r2_token import (  # noqa: F401  pylint: disable=unused-import
    ACCOUNT,
    failed,
    fake,
    ok,
    run,
)

PARENT_SECRET = hashlib.sha256(b'cfat_' + b'Pz7Kq2Wm9Xv4Lb8Nc3Rt6Yh1Gd5Fs0Ja' + b'Ue2Io4Oq').hexdigest()


def policies(permission, buckets=None):
    group = {'admin_read_write': 'Workers R2 Storage Write', 'admin_read_only': 'Workers R2 Storage Read',
             'object_read_write': 'Workers R2 Storage Bucket Item Write',
             'object_read_only': 'Workers R2 Storage Bucket Item Read'}[permission]
    return [{'effect': 'allow', 'permission_groups': [{'id': 'x' * 32, 'name': group}],
             'resources': _r2.build_resources(ACCOUNT, permission, buckets)}]


@pytest.fixture
def parent(fake):  # pylint: disable=redefined-outer-name
    fake.add_bucket('reports', 'eu')
    return fake.add_token('parent', 'account', policies=policies('object_read_write', [('eu', 'reports')]))


def mint(parent_token, **args):
    params = dict(bucket='reports', jurisdiction='eu', api_token=parent_token['_value'])
    params.update(args)
    return params


def test_api_minting_defaults_parent_to_the_api_token(fake, parent):  # pylint: disable=redefined-outer-name
    before = time.time()
    result = ok(r2_temp_credentials, **mint(parent, permission='object_read_only', prefixes=['2026/'], ttl_seconds=60))
    assert result['changed'] is False
    assert result['endpoint_url'] == 'https://%s.eu.r2.cloudflarestorage.com' % ACCOUNT
    assert result['scope']['parent_access_key_id'] == parent['id']
    assert fake.temp_credentials == [{'bucket': 'reports', 'parentAccessKeyId': parent['id'],
                                      'permission': 'object-read-only', 'ttlSeconds': 60, 'prefixes': ['2026/']}]
    expires = _r2.parse_time(result['expiration'], 'expiration').timestamp()
    assert before + 59 <= expires <= time.time() + 61
    assert set(result) >= {'access_key_id', 'secret_access_key', 'session_token', 'scope'}
    paths = [c[1] for c in fake.calls]
    assert paths[0].endswith('/tokens/verify') and paths[-1].endswith('/temp-access-credentials')


def test_runs_in_check_mode(fake, parent):  # pylint: disable=redefined-outer-name
    result = ok(r2_temp_credentials, check=True, **mint(parent))
    assert result['changed'] is False and result['session_token'] and len(fake.temp_credentials) == 1


@pytest.mark.parametrize('permission', ['admin_read_only', 'admin_read_write'])
def test_permission_above_the_parent_fails_before_the_call(fake, parent, permission):  # pylint: disable=redefined-outer-name
    msg = failed(r2_temp_credentials, **mint(parent, permission=permission))
    assert 'permission: %s on bucket \'reports\' is higher than the parent token %s allows' % (permission, parent['id']) in msg
    assert '(the parent holds object_read_write on it)' in msg
    assert not fake.writes


def test_bucket_outside_the_parent_scope_fails_before_the_call(fake, parent):  # pylint: disable=redefined-outer-name
    fake.add_bucket('reports', 'default')
    msg = failed(r2_temp_credentials, **mint(parent, jurisdiction='default'))
    assert 'higher than the parent token' in msg and not fake.writes


def test_missing_bucket_fails_before_the_call(fake, parent):  # pylint: disable=redefined-outer-name
    fake.tokens[parent['id']]['policies'] = policies('admin_read_write')
    msg = failed(r2_temp_credentials, **mint(parent, bucket='nope-not-here'))
    assert "bucket: bucket(s) 'nope-not-here' do not exist in jurisdiction 'eu'" in msg
    assert not fake.writes


def test_unlistable_buckets_warn_and_continue(fake, parent):  # pylint: disable=redefined-outer-name
    fake.bucket_list_denied = True
    result = ok(r2_temp_credentials, **mint(parent))
    assert "check_bucket: could not list the buckets of jurisdiction 'eu' (the API token may not list buckets)" \
        in ' '.join(result['warnings'])
    assert len(fake.temp_credentials) == 1


@pytest.mark.parametrize('args,message', [
    (dict(ttl_seconds=0), 'ttl_seconds must be an integer from 1 to 604800'),
    (dict(ttl_seconds=604801), 'ttl_seconds must be an integer from 1 to 604800'),
    (dict(bucket='Not_A_Bucket'), "bucket: invalid bucket name 'Not_A_Bucket'"),
    (dict(jurisdiction='US'), 'jurisdiction: must be a jurisdiction, a lowercase name'),
    (dict(prefixes=['ok/', '']), 'prefixes must be a list of non-empty strings'),
    (dict(objects=[{'a': 1}]), 'objects'),
    (dict(actions=['GetObject']), 'actions: only supported with signing=local'),
    (dict(signing='local', parent_access_key_id='a' * 32), 'parent_secret_access_key is required with signing=local'),
    (dict(signing='local', parent_secret_access_key=PARENT_SECRET), 'parent_access_key_id is required'),
    (dict(signing='local', parent_access_key_id='a' * 32, parent_secret_access_key=PARENT_SECRET,
          actions=['GetObject', 'Explode']), 'actions: unknown S3 action(s) Explode'),
])
def test_bad_input(fake, parent, args, message):  # pylint: disable=redefined-outer-name
    assert message in failed(r2_temp_credentials, **mint(parent, **args))
    assert fake.calls == []


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + '=' * (-len(text) % 4))


def test_local_signing_follows_cloudflares_recipe_without_api_calls(fake):
    parent_id = 'f' * 32
    result = ok(r2_temp_credentials, api_token=None, bucket='uploads', jurisdiction='eu',
                permission='object_read_write', signing='local', parent_access_key_id=parent_id,
                parent_secret_access_key=PARENT_SECRET, objects=['in/a.tgz'], prefixes=['tmp/'],
                actions=['PutObject', 'HeadObject'], ttl_seconds=120, endpoint_url='http://127.0.0.1:9000/')
    assert fake.calls == []
    assert result['access_key_id'] == parent_id and result['endpoint_url'] == 'http://127.0.0.1:9000'
    decoded = base64.b64decode(result['session_token']).decode()
    assert decoded.startswith('jwt/')
    jwt = decoded[len('jwt/'):]
    header, claims, signature = jwt.split('.')
    expected = hmac.new(PARENT_SECRET.encode(), ('%s.%s' % (header, claims)).encode(), hashlib.sha256).digest()
    assert b64url_decode(signature) == expected
    assert json.loads(b64url_decode(header)) == {'alg': 'HS256', 'typ': 'JWT'}
    body = json.loads(b64url_decode(claims))
    assert body['exp'] - body['iat'] == 120
    assert {k: v for k, v in body.items() if k not in ('iat', 'exp')} == {
        'bucket': 'uploads', 'scope': 'object-read-write', 'sub': ACCOUNT, 'iss': parent_id, 'aud': '127.0.0.1:9000',
        'actions': ['PutObject', 'HeadObject'], 'paths': {'prefixPaths': ['tmp/'], 'objectPaths': ['in/a.tgz']}}
    assert result['secret_access_key'] == hashlib.sha256(jwt.encode()).hexdigest()


def test_local_signing_audience_is_the_jurisdiction_host(fake):
    result = ok(r2_temp_credentials, api_token=None, bucket='uploads', jurisdiction='fedramp', signing='local',
                parent_access_key_id='f' * 32, parent_secret_access_key=PARENT_SECRET)
    jwt = base64.b64decode(result['session_token']).decode()[4:]
    claims = json.loads(b64url_decode(jwt.split('.')[1]))
    assert claims['aud'] == '%s.fedramp.r2.cloudflarestorage.com' % ACCOUNT and 'paths' not in claims
    assert PARENT_SECRET not in json.dumps(result)
    assert fake.calls == []


# -- r2_token bucket pre-flight ------------------------------------------------------

def test_token_with_missing_bucket_fails_before_any_write(fake):
    msg = failed(r2_token, name='t', permission='object_read_only', buckets=['backups'], jurisdiction='default')
    assert "buckets: bucket(s) 'backups' do not exist in jurisdiction 'default'" in msg
    assert not fake.writes


def test_token_bucket_check_lists_once_per_jurisdiction_and_not_on_no_change(fake):
    buckets = ['one', {'name': 'backups', 'jurisdiction': 'eu'}, {'name': 'two', 'jurisdiction': 'eu'}]
    args = dict(name='t', permission='object_read_only', buckets=buckets)
    ok(r2_token, **args)
    listings = [c for c in fake.calls if c[1].endswith('/r2/buckets')]
    assert len(listings) == 2
    ok(r2_token, **args)
    assert len([c for c in fake.calls if c[1].endswith('/r2/buckets')]) == 2


def test_token_bucket_check_can_be_turned_off_or_skipped_with_a_warning(fake):
    assert ok(r2_token, name='t1', permission='object_read_only', buckets=['ghost'], check_buckets=False)['changed']
    fake.bucket_list_denied = True
    result = ok(r2_token, name='t2', permission='object_read_only', buckets=['ghost'])
    assert result['changed'] and 'could not list the buckets' in ' '.join(result['warnings'])


def test_filters():
    from ansible_collections.cloudflare_r2.credentials.plugins.filter import r2 as filters
    from ansible.errors import AnsibleFilterError
    assert filters.r2_endpoint(ACCOUNT) == 'https://%s.r2.cloudflarestorage.com' % ACCOUNT
    assert filters.r2_endpoint(ACCOUNT.upper(), 'eu') == 'https://%s.eu.r2.cloudflarestorage.com' % ACCOUNT
    with pytest.raises(AnsibleFilterError, match='jurisdiction: must be a jurisdiction, a lowercase name'):
        filters.r2_endpoint(ACCOUNT, 'EU')
    assert filters.r2_endpoint(ACCOUNT, 'us') == 'https://%s.us.r2.cloudflarestorage.com' % ACCOUNT
    assert filters.r2_endpoint(ACCOUNT, 'apac') == 'https://%s.apac.r2.cloudflarestorage.com' % ACCOUNT
    with pytest.raises(AnsibleFilterError, match='account_id must be 32 hexadecimal'):
        filters.r2_endpoint('abc')
    value = 'cfut_' + 'Mn3Bv5Cx7Zl9Kj1Hg2Fd4Sa6Qw8Er0Ty' + 'Ui3Op5As'
    assert filters.r2_s3_secret(value) == hashlib.sha256(value.encode()).hexdigest()
    with pytest.raises(AnsibleFilterError) as err:
        filters.r2_s3_secret(None)
    assert 'non-empty token value' in str(err.value)
    assert set(filters.FilterModule().filters()) == {'r2_endpoint', 'r2_s3_secret'}


# -- issue 9: ids, endpoints, paths and caps, refused before any API call ---------------------

LOCAL = dict(signing='local', parent_secret_access_key=PARENT_SECRET)


@pytest.mark.parametrize('parent_id', ['abc?x=1', '../../../user/tokens/verify', 'a' * 32 + '\n', 'A' * 31,
                                       'g' * 32, 'a' * 16 + '/' + 'a' * 15])
@pytest.mark.parametrize('signing', ['api', 'local'])
def test_parent_ids_are_32_hexadecimal_characters(fake, parent, parent_id, signing):  # pylint: disable=redefined-outer-name
    args = dict(LOCAL, parent_access_key_id=parent_id) if signing == 'local' else dict(parent_access_key_id=parent_id)
    msg = failed(r2_temp_credentials, **mint(parent, **args))
    assert msg == ('parent_access_key_id must be 32 hexadecimal characters (a Cloudflare token id, which is also its '
                   'S3 Access Key ID)')
    assert fake.calls == [] and fake.temp_credentials == []


@pytest.mark.parametrize('url', ['not a url', 'https://', 'r2.example.com', 'https://user:pw@r2.example.com',
                                 'https://r2.example.com/?x=1', 'https://r2.example.com#f', 'https://r2.example.com\n',
                                 'https://r2\x1b[31m.example.com', 'ftp://r2.example.com'])
@pytest.mark.parametrize('signing', ['api', 'local'])
def test_endpoint_url_is_validated_where_it_is_taken(fake, parent, url, signing):  # pylint: disable=redefined-outer-name
    """Local signing took 'not a url' and returned credentials with an empty aud."""
    args = dict(LOCAL, parent_access_key_id='f' * 32) if signing == 'local' else {}
    msg = failed(r2_temp_credentials, **mint(parent, endpoint_url=url, **args))
    # the rule only: never the value
    assert msg == ('endpoint_url: must be an http:// or https:// URL with a host, without user name or password, '
                   'query, fragment, blanks or control characters (C0 or C1 controls, DEL, tab, Unicode format '
                   'characters such as bidi overrides, line or paragraph separators)')
    assert fake.calls == []


def test_an_endpoint_with_a_path_and_port_is_taken(fake):
    result = ok(r2_temp_credentials, api_token=None, bucket='uploads', parent_access_key_id='f' * 32,
                endpoint_url='https://gw.example.com:8443/r2/', **LOCAL)
    assert result['endpoint_url'] == 'https://gw.example.com:8443/r2'
    claims = json.loads(b64url_decode(base64.b64decode(result['session_token']).decode()[4:].split('.')[1]))
    assert claims['aud'] == 'gw.example.com:8443' and fake.calls == []


@pytest.mark.parametrize('args, message', [
    (dict(prefixes=['p%d/' % i for i in range(20000)]), "prefixes: at most 100 entries (the collection's cap), got 20000"),
    (dict(objects=['o%d' % i for i in range(101)]), "objects: at most 100 entries (the collection's cap), got 101"),
    (dict(prefixes=['ok/', 'in/\n']), 'prefixes[1]: must not contain control characters'),
    (dict(objects=['a\u202eb']), 'objects[0]: must not contain control characters'),
    (dict(objects=['a\tb']), 'objects[0]: must not contain control characters'),
    (dict(bucket='reports\n'), 'bucket: invalid bucket name <8 characters not shown>'),
    (dict(actions=['GetObject\x1b[31m'], **LOCAL), 'actions[0]: must not contain control characters'),
    (dict(actions=['GetObject', 'Delete\u2028All'], **LOCAL), 'actions[1]: must not contain control characters'),
])
def test_paths_and_caps(fake, parent, args, message):  # pylint: disable=redefined-outer-name
    args.setdefault('parent_access_key_id', 'f' * 32)
    assert message in failed(r2_temp_credentials, **mint(parent, **args))
    assert fake.calls == []


def test_a_hundred_prefixes_are_sent(fake, parent):  # pylint: disable=redefined-outer-name
    prefixes = ['p%d/' % i for i in range(100)]
    ok(r2_temp_credentials, **mint(parent, prefixes=prefixes))
    assert fake.temp_credentials[0]['prefixes'] == prefixes
