# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""CloudflareClient: envelope parsing, pagination, retries, error messages."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re

import pytest
import requests

from ansible_collections.cloudflare_r2.credentials.plugins.module_utils import _api
from ansible_collections.cloudflare_r2.credentials.plugins.module_utils._api import (
    CloudflareApiError,
    CloudflareAuthError,
    CloudflareClient,
    CloudflarePermissionError,
    CloudflareRateLimited,
    CloudflareTransportError,
    CloudflareUncertainWrite,
)
from ansible_collections.cloudflare_r2.credentials.tests.unit.utils.fake_cloudflare import (
    FakeResponse,
    envelope,
)

TOKEN = 'cfut_' + 'Q7w9xYz3Lk2Jh5Gf8Ds1Ap4Ro6Ti0Ue' + 'Nb7Mv3Cx'


class ScriptedSession:
    """Serves a fixed list of responses/exceptions and records calls."""

    def __init__(self, outcomes):
        self.outcomes = list(outcomes)
        self.calls = []
        self.headers = {}
        self.verify = True
        self.trust_env = True

    def request(self, method, url, params=None, json=None, timeout=None, headers=None):
        self.calls.append((method, url, dict(params or {}), json, timeout))
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


def make_client(outcomes, **kwargs):
    sleeps = []
    session = ScriptedSession(outcomes)
    client = CloudflareClient(TOKEN, api_url='https://api.example.test/client/v4', session=session,
                              sleep=sleeps.append, **kwargs)
    return client, session, sleeps


def test_bearer_auth_and_base_url():
    client, session, dummy = make_client([envelope({'id': 'x'})], validate_certs=False, timeout=7)
    assert client.call('GET', '/user/tokens/verify') == {'id': 'x'}
    assert session.headers['Authorization'] == 'Bearer ' + TOKEN
    assert session.verify is False
    assert session.calls[0][1] == 'https://api.example.test/client/v4/user/tokens/verify'
    assert session.calls[0][4] == 7


def test_pagination_follows_total_pages():
    pages = [envelope([{'n': i} for i in range(p * 50, p * 50 + (50 if p < 2 else 3))],
                      result_info={'page': p + 1, 'per_page': 50, 'total_pages': 3, 'count': 50, 'total_count': 103})
             for p in range(3)]
    client, session, dummy = make_client(pages)
    items = list(client.paginate('/accounts/a/tokens', params={'include_expired': 'true'}))
    assert [i['n'] for i in items] == list(range(103))
    assert [c[2]['page'] for c in session.calls] == [1, 2, 3]
    assert all(c[2]['per_page'] == 50 and c[2]['include_expired'] == 'true' for c in session.calls)


def test_pagination_without_total_pages_stops_on_short_page():
    client, session, dummy = make_client([
        envelope([{'n': 1}] * 50, result_info={'page': 1, 'per_page': 50}),
        envelope([{'n': 2}] * 4, result_info={'page': 2, 'per_page': 50}),
    ])
    assert len(list(client.paginate('/user/tokens'))) == 54
    assert len(session.calls) == 2


def test_429_honours_retry_after_then_succeeds():
    client, session, sleeps = make_client([
        envelope(None, 429, errors=[{'code': 10000, 'message': 'rate limited'}], headers={'Retry-After': '3'}),
        envelope([]),
    ])
    assert client.call('POST', '/user/tokens', body={'name': 'x'}) == []
    assert sleeps == [3.0]
    assert len(session.calls) == 2  # a 429 was not processed, so even a POST is resent


def test_429_uses_ratelimit_header_when_no_retry_after():
    client, dummy, sleeps = make_client([
        envelope(None, 429, errors=[{'code': 10000, 'message': 'x'}], headers={'Ratelimit': '"default";r=0;t=4'}),
        envelope({}),
    ])
    client.call('GET', '/user/tokens')
    assert sleeps == [4.0]


def test_429_longer_than_max_delay_fails_with_clear_message():
    client, session, sleeps = make_client([
        envelope(None, 429, errors=[{'code': 10000, 'message': 'rate limited'}], headers={'retry-after': '300'}),
    ])
    with pytest.raises(CloudflareRateLimited) as err:
        client.call('GET', '/user/tokens')
    assert 'five minutes' in str(err.value) and 'retry after 300s' in str(err.value)
    assert sleeps == []


@pytest.mark.parametrize('status', [502, 503, 504, 408])
def test_gateway_errors_on_get_are_retried_with_bounded_jittered_backoff(status):
    client, session, sleeps = make_client(
        [envelope(None, status, errors=[{'code': 10043, 'message': 'unavailable'}])] * 3 + [envelope({'ok': 1})],
        retry_base_delay=1.0, retry_max_delay=3)
    assert client.call('GET', '/user/tokens') == {'ok': 1}
    assert len(sleeps) == 3
    assert 0.5 <= sleeps[0] <= 1 and 1 <= sleeps[1] <= 2 and 1.5 <= sleeps[2] <= 3


def test_retry_budget_is_bounded():
    client, session, sleeps = make_client([envelope(None, 503, errors=[{'code': 10043, 'message': 'down'}])] * 3,
                                          retries=2)
    with pytest.raises(CloudflareApiError) as err:
        client.call('GET', '/user/tokens')
    assert err.value.status == 503 and len(session.calls) == 3


def test_5xx_on_post_is_not_resent():
    client, session, dummy = make_client([envelope(None, 503, errors=[{'code': 10043, 'message': 'down'}])])
    with pytest.raises(CloudflareUncertainWrite):
        client.call('POST', '/accounts/a/tokens', body={'name': 'n'})
    assert len(session.calls) == 1


def test_timeout_on_get_is_retried_but_not_on_post():
    client, session, dummy = make_client([requests.exceptions.ReadTimeout('read timed out'), envelope([])])
    assert client.call('GET', '/user/tokens') == []
    client, session, dummy = make_client([requests.exceptions.ReadTimeout('read timed out')])
    with pytest.raises(CloudflareUncertainWrite) as err:
        client.call('POST', '/user/tokens', body={'name': 'n'})
    assert 'may have been applied' in str(err.value)
    assert len(session.calls) == 1


def test_connect_timeout_on_post_is_retried_because_nothing_was_sent():
    client, session, dummy = make_client([requests.exceptions.ConnectTimeout('connect timed out'), envelope({'id': 'a'})])
    assert client.call('POST', '/user/tokens', body={}) == {'id': 'a'}


def test_connection_errors_exhaust_into_transport_error():
    client, session, dummy = make_client([requests.exceptions.ConnectionError('reset')] * 2, retries=1)
    with pytest.raises(CloudflareTransportError) as err:
        client.call('GET', '/user/tokens')
    assert 'after 2 attempt(s)' in str(err.value)


def test_401_names_the_token_and_env_var():
    client, dummy, dummy2 = make_client([envelope(None, 401, errors=[{'code': 1000, 'message': 'Invalid API Token'}])])
    with pytest.raises(CloudflareAuthError) as err:
        client.call('GET', '/accounts/a/tokens')
    text = str(err.value)
    assert 'invalid, expired' in text and 'CLOUDFLARE_API_TOKEN' in text and '1000 Invalid API Token' in text
    assert TOKEN not in text


@pytest.mark.parametrize('method,path,needed', [
    ('POST', '/accounts/0123/tokens', '"Account API Tokens Write"'),
    ('GET', '/accounts/0123/tokens', '"Account API Tokens Read" or "Account API Tokens Write"'),
    ('PUT', '/user/tokens/abc/value', '"API Tokens Write"'),
    ('POST', '/accounts/0123/r2/buckets', '"Workers R2 Storage Write"'),
])
def test_403_names_the_missing_permission(method, path, needed):
    client, dummy, dummy2 = make_client([envelope(None, 403, errors=[{'code': 9109, 'message': 'Unauthorized'}])])
    with pytest.raises(CloudflarePermissionError) as err:
        client.call(method, path, body={} if method != 'GET' else None)
    assert 'It needs the permission %s.' % needed in str(err.value)


def test_unsuccessful_envelope_with_200_is_an_error_and_error_chain_is_shown():
    client, dummy, dummy2 = make_client([envelope(None, 400, errors=[
        {'code': 6003, 'message': 'Invalid request headers', 'error_chain': [{'code': 6111, 'message': 'Invalid format'}]}])])
    with pytest.raises(CloudflareApiError) as err:
        client.call('GET', '/user/tokens')
    assert '6003 Invalid request headers [6111 Invalid format]' in str(err.value)
    client, dummy, dummy2 = make_client([FakeResponse(200, {'success': False, 'errors': [{'code': 1001, 'message': 'm'}]})])
    with pytest.raises(CloudflareApiError):
        client.call('GET', '/user/tokens')


def test_malformed_json_is_retried_on_get_and_never_echoed():
    secretish = 'cfat_' + 'Z' * 45
    bad = FakeResponse(200, raw='{"result": "%s"' % secretish)
    client, session, dummy = make_client([bad, bad], retries=1)
    with pytest.raises(CloudflareTransportError) as err:
        client.call('GET', '/user/tokens')
    assert len(session.calls) == 2 and secretish not in str(err.value)
    client, session, dummy = make_client([bad])
    with pytest.raises(CloudflareUncertainWrite):
        client.call('POST', '/user/tokens', body={})


def test_retry_log_never_contains_the_token():
    lines = []
    client, dummy, dummy2 = make_client([requests.exceptions.ConnectionError('boom'), envelope([])], log=lines.append)
    client.call('GET', '/user/tokens')
    assert lines and all(TOKEN not in line for line in lines)


def test_stats_count_every_attempt():
    client, dummy, dummy2 = make_client([envelope(None, 503, errors=[{'code': 10043, 'message': 'x'}]), envelope([])])
    client.call('GET', '/user/tokens')
    assert client.stats == {'GET /user/tokens': 2}


def _spec_path():
    path = os.environ.get('R2_OPENAPI_SPEC') or os.path.join(
        os.path.dirname(__file__), *(['..'] * 8 + ['shared', 'cloudflare-openapi', 'r2-credentials.openapi.json']))
    candidates = [path]
    here = os.path.abspath(os.path.dirname(__file__))
    while here != os.path.dirname(here):
        candidates.append(os.path.join(here, 'shared', 'cloudflare-openapi', 'r2-credentials.openapi.json'))
        candidates.append(os.path.join(here, '..', 'shared', 'cloudflare-openapi', 'r2-credentials.openapi.json'))
        here = os.path.dirname(here)
    for candidate in candidates:
        if os.path.exists(candidate):
            return candidate
    raise AssertionError('Cloudflare OpenAPI extract not found; set R2_OPENAPI_SPEC')


def test_permission_table_matches_the_official_schema():
    with open(_spec_path()) as handle:
        spec = json.load(handle)
    checked = 0
    for path, operations in spec['paths'].items():
        for method, operation in operations.items():
            if method not in ('get', 'put', 'post', 'delete'):
                continue
            concrete = re.sub(r'\{[^}]+\}', 'x0', path)
            expected = operation.get('x-api-token-group') or None
            got = _api.required_permission_groups(method, concrete)
            assert (sorted(got) if got else None) == (sorted(expected) if expected else None), (method, path)
            checked += 1
    assert checked == 19
