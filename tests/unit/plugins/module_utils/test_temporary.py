# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The temporary-credential model: scope, parent rule, mint, local signing, when a holder needs new ones."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.cloudflare_r2.credentials.plugins.module_utils import _r2, _temporary
from ansible_collections.cloudflare_r2.credentials.plugins.module_utils._api import CloudflareClient
from ansible_collections.cloudflare_r2.credentials.tests.unit.utils.fake_cloudflare import FakeCloudflare

ACCOUNT = '0123456789abcdef0123456789abcdef'


def refused(call, *args, **kwargs):
    with pytest.raises(_r2.R2ValueError) as error:
        call(*args, **kwargs)
    return str(error.value)


def _policy(group, resources, effect='allow'):
    return {'effect': effect, 'permission_groups': [{'id': 'g' * 32, 'name': group}], 'resources': resources}


def test_parent_covers_reads_tokens_with_several_policies():
    account = {'com.cloudflare.api.account.%s' % ACCOUNT: '*'}
    manager = {'policies': [_policy('Account API Tokens Write', account), _policy('Workers R2 Storage Write', account)]}
    for permission in _r2.PERMISSIONS:
        assert _temporary.parent_covers(manager, ACCOUNT, 'any', 'eu', permission) == (True, 'admin_read_write')
    mixed = {'policies': [
        _policy('Workers R2 Storage Bucket Item Read', {_r2.bucket_resource(ACCOUNT, 'eu', 'a'): '*'}),
        _policy('Workers R2 Storage Bucket Item Write', {_r2.bucket_resource(ACCOUNT, 'default', 'b'): '*'}),
    ]}
    assert _temporary.parent_covers(mixed, ACCOUNT, 'a', 'eu', 'object_read_only') == (True, 'object_read_only')
    assert _temporary.parent_covers(mixed, ACCOUNT, 'a', 'eu', 'object_read_write') == (False, 'object_read_only')
    assert _temporary.parent_covers(mixed, ACCOUNT, 'b', 'default', 'object_read_write') == (True, 'object_read_write')
    assert _temporary.parent_covers(mixed, ACCOUNT, 'b', 'eu', 'object_read_only') == (False, None)
    assert _temporary.parent_covers({'policies': []}, ACCOUNT, 'a', 'eu', 'object_read_only') == (False, None)


def test_parent_covers_leaves_undecidable_tokens_to_cloudflare():
    denied = {'policies': [_policy('Workers R2 Storage Write', {'com.cloudflare.api.account.%s' % ACCOUNT: '*'}),
                           _policy('Workers R2 Storage Bucket Item Write',
                                   {_r2.bucket_resource(ACCOUNT, 'eu', 'a'): '*'}, effect='deny')]}
    assert _temporary.parent_covers(denied, ACCOUNT, 'a', 'eu', 'object_read_only') == (None, None)
    every_account = {'policies': [_policy('Workers R2 Storage Read', {'com.cloudflare.api.account.*': '*'})]}
    assert _temporary.parent_covers(every_account, ACCOUNT, 'a', 'eu', 'object_read_only') == (None, None)


def test_a_bad_parent_id_never_reaches_an_api_path():
    fake = FakeCloudflare(ACCOUNT)
    client = CloudflareClient('cfat_' + 'x' * 40, session=fake.session(), sleep=lambda s: None)
    for parent in ('abc?x=1', '../../../user/tokens/verify'):
        assert 'parent_access_key_id' in refused(_temporary.read_parent, client, ACCOUNT, parent)
        scope = {'bucket': 'media', 'jurisdiction': 'default', 'permission': 'object_read_only', 'ttl_seconds': 60,
                 'parent_access_key_id': parent}
        assert 'parent_access_key_id' in refused(_temporary.mint_temporary_credentials, client, ACCOUNT, scope)
    assert fake.calls == []


def test_local_signing_refuses_an_endpoint_without_a_host():
    args = (ACCOUNT, 'a' * 32, 'b' * 64, 'media', 'object_read_only', 60)
    assert _temporary.sign_temporary_credentials(*args, endpoint='https://%s.r2.cloudflarestorage.com' % ACCOUNT)
    for endpoint in ('not a url', '', None, '/just/a/path'):
        assert 'endpoint_url: must be an http:// or https:// URL with a host' in refused(
            _temporary.sign_temporary_credentials, *args, endpoint=endpoint)
    assert 'parent_access_key_id' in refused(_temporary.sign_temporary_credentials, ACCOUNT, 'abc?x=1', 'b' * 64, 'media',
                                             'object_read_only', 60, 'https://r2.example.com')
