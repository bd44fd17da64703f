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
from ansible_collections.cloudflare_r2.credentials.tests.unit.utils import secret_forms
from ansible_collections.cloudflare_r2.credentials.tests.unit.utils.fake_cloudflare import (
    FakeResponse,
    ScriptedSession,
    envelope,
)

TOKEN = 'cfut_' + 'Q7w9xYz3Lk2Jh5Gf8Ds1Ap4Ro6Ti0Ue' + 'Nb7Mv3Cx'


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


def test_429_that_would_pass_the_deadline_fails_at_once_saying_when_to_try_again():
    client, session, sleeps = make_client([
        envelope(None, 429, errors=[{'code': 10000, 'message': 'rate limited'}], headers={'retry-after': '300'}),
    ], deadline=60)
    with pytest.raises(CloudflareRateLimited) as err:
        client.call('GET', '/user/tokens')
    text = str(err.value)
    assert 'five minutes' in text and '(in 300s)' in text and 'deadline' in text and '10000 rate limited' in text
    assert re.search(r'Try again after \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC', text), text
    assert err.value.status == 429 and err.value.retry_after == 300
    assert sleeps == [] and len(session.calls) == 1


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


# --- No form of the token reaches a message or a log line (issue 9, build 1) -------------------------------------
# The value of the client's token is quoted by some transport exceptions (requests' InvalidHeader quotes the
# Authorization header; others can carry it in their arguments). Messages and ``log`` lines give the exception's
# type, the method and the URL path only, through retries and whatever the exception holds.

API_HOST = 'api.example.test'


def token_bearing_errors(token):
    """(id, exception) pairs whose text or arguments hold the token, as requests, urllib3 and http.client raise."""
    import urllib3
    bearer = 'Bearer %s' % token
    return [
        ('InvalidHeader', requests.exceptions.InvalidHeader(
            "Invalid leading whitespace, reserved character(s), or return character(s) in header value: %r"
            % (bearer + '\n'))),
        ('ProtocolError', requests.exceptions.ConnectionError(urllib3.exceptions.ProtocolError(
            'Connection aborted.', ConnectionResetError(104, 'Connection reset by peer after %s' % bearer)))),
        ('ProtocolError-first-arg', requests.exceptions.ConnectionError(urllib3.exceptions.ProtocolError(
            'Connection aborted while sending Authorization: %s' % bearer))),
        ('MaxRetryError', requests.exceptions.ConnectionError(urllib3.exceptions.MaxRetryError(
            None, '/client/v4/user/tokens?probe=%s' % token, urllib3.exceptions.NewConnectionError(
                None, 'Failed to establish a new connection for %s' % bearer)))),
        ('ReadTimeout', requests.exceptions.ReadTimeout('Read timed out (%s)' % bearer)),
        ('ConnectTimeout', requests.exceptions.ConnectTimeout('Connect timed out (%s)' % bearer)),
        ('SSLError', requests.exceptions.SSLError('certificate verify failed sending %s' % bearer)),
        ('ChunkedEncodingError', requests.exceptions.ChunkedEncodingError('broken body after %s' % bearer)),
        ('http.client ValueError', ValueError('Invalid header value %r' % (bearer + '\r\n').encode())),
        ('UnicodeEncodeError', UnicodeEncodeError('latin-1', bearer + '\u0434', len(bearer), len(bearer) + 1,
                                                  'ordinal not in range(256)')),
        ('wrapped in a dict', requests.exceptions.ConnectionError({'Authorization': bearer})),
        ('RuntimeError', RuntimeError(bearer)),
    ]


def _errors_ids():
    return [name for name, dummy in token_bearing_errors(TOKEN)]


@pytest.mark.parametrize('method', ['GET', 'POST'])
@pytest.mark.parametrize('index', range(len(_errors_ids())), ids=_errors_ids())
def test_transport_errors_are_described_by_type_method_and_path_only(method, index):
    name, error = token_bearing_errors(TOKEN)[index]
    lines = []
    # the same error on every attempt: a GET is retried (log lines), a POST may be retried when provably unsent
    client, session, sleeps = make_client([error] * 3, retries=2, log=lines.append)
    with pytest.raises(CloudflareTransportError) as err:
        client.call(method, '/user/tokens', body={} if method == 'POST' else None)
    texts = [str(err.value), repr(err.value)] + lines
    secret_forms.assert_no_leak('\n'.join(texts), {'token': secret_forms.forms(TOKEN, TOKEN)}, '%s %s' % (name, method))
    assert 'Bearer' not in '\n'.join(texts) and 'Authorization' not in '\n'.join(texts)
    for text in [str(err.value)] + lines:
        assert '%s /user/tokens' % method in text, text
        assert type(error).__name__ in text, text
        # the URL path only: not the host (an api_url may carry credentials), not the query
        assert API_HOST not in text and 'probe' not in text, text
    assert len(lines) == len(session.calls) - 1


def test_a_real_invalid_header_from_requests_never_shows_the_token():
    """requests itself, with a header value that ends in a newline (as a token from a YAML block would)."""
    import socket
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
    lines = []
    client = CloudflareClient(TOKEN, api_url='http://127.0.0.1:%d/client/v4' % port, retries=1, log=lines.append,
                              sleep=lambda s: None)
    client.session.headers['Authorization'] = 'Bearer %s\n' % TOKEN   # past check_api_token, as before the fix
    with pytest.raises(CloudflareTransportError) as err:
        client.call('GET', '/user/tokens/verify')
    text = '\n'.join([str(err.value)] + lines)
    secret_forms.assert_no_leak(text, {'token': secret_forms.forms(TOKEN + '\n', TOKEN)})
    assert 'InvalidHeader' in text


def test_real_connection_refused_and_reset_show_type_method_and_path():
    import socket
    import threading
    lines = []
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        closed = sock.getsockname()[1]
    # a server that accepts, reads the request and resets the connection (SO_LINGER 0)
    server = socket.socket()
    server.bind(('127.0.0.1', 0))
    server.listen(8)
    stop = threading.Event()

    def serve():
        import struct
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, dummy = server.accept()
            except socket.timeout:
                continue
            conn.recv(65536)
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
            conn.close()
    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        for port, kind in ((closed, 'NewConnectionError'), (server.getsockname()[1], 'ProtocolError')):
            client = CloudflareClient(TOKEN, api_url='http://127.0.0.1:%d/client/v4' % port, retries=1,
                                      log=lines.append, sleep=lambda s: None)
            with pytest.raises(CloudflareTransportError) as err:
                client.call('GET', '/user/tokens/verify')
            text = str(err.value)
            assert 'GET /user/tokens/verify' in text and kind in text, text
            assert '127.0.0.1' not in text and str(port) not in text, text
    finally:
        stop.set()
        thread.join(5)
        server.close()
    secret_forms.assert_no_leak('\n'.join(lines), {'token': secret_forms.forms(TOKEN, TOKEN)}, 'log lines')
    assert len(lines) == 2


@pytest.mark.parametrize('case', secret_forms.hostile_cases(), ids=lambda c: c[0])
def test_a_hostile_token_is_refused_before_any_request_without_its_value(case):
    name, value, token = case
    session = ScriptedSession([])
    with pytest.raises(_api.CloudflareInputError) as err:
        CloudflareClient(value, session=session)
    its = {name: secret_forms.forms(value, token)}
    secret_forms.assert_no_leak(str(err.value), its)
    assert 'api_token' in str(err.value)
    assert session.calls == [] and 'Authorization' not in session.headers
    with pytest.raises(_api.CloudflareInputError) as err:
        _api.check_api_token(value, 'term 3')
    secret_forms.assert_no_leak(str(err.value), its)
    assert str(err.value).startswith('term 3') and 'api_token' not in str(err.value)


@pytest.mark.parametrize('value', ['', None, 42, b'cfut_' + b'A' * 40])
def test_a_missing_or_non_string_token_is_refused_naming_the_field(value):
    with pytest.raises(_api.CloudflareInputError) as err:
        _api.check_api_token(value)
    assert 'api_token' in str(err.value)


def test_a_good_token_of_every_known_shape_is_accepted():
    for value in (TOKEN, 'cfat_' + 'a1B2' * 10, 'A' * 40, 'abc-DEF_123.xyz~+/=' + 'q' * 21):
        assert _api.check_api_token(value) == value


@pytest.mark.parametrize('echo', [
    'Authorization header Bearer %s is malformed' % TOKEN,
    # quoted as JSON or repr would quote it, and cut short as a log line or a proxy's page would cut it
    'bad header: {"Authorization": %s}' % json.dumps('Bearer ' + TOKEN),
    "bad header: 'Bearer %s'" % TOKEN,
    'Authorization: Bearer %s...' % TOKEN[:32],
], ids=['whole', 'json', 'repr', 'cut short'])
def test_an_error_envelope_that_quotes_the_token_is_not_echoed(echo):
    """A proxy or an API error that quotes the request's Authorization header: the client's message (shown by the
    r2_credentials lookup on the controller, where no no_log masking applies) must not carry the token."""
    for status in (400, 403, 404, 500):
        client, dummy, dummy2 = make_client([envelope(None, status, errors=[{'code': 6003, 'message': echo}])],
                                            retries=0)
        with pytest.raises(CloudflareApiError) as err:
            client.call('GET', '/user/tokens/verify')
        its = {'token': secret_forms.forms(TOKEN, TOKEN)}
        secret_forms.assert_no_leak(str(err.value), its, 'HTTP %d message' % status)
        secret_forms.assert_no_leak(err.value.errors, its, 'HTTP %d errors' % status)


def test_the_user_agent_carries_the_version_of_galaxy_yml():
    import yaml
    galaxy = os.path.join(os.path.dirname(_api.__file__), '..', '..', 'galaxy.yml')
    with open(galaxy) as handle:
        version = yaml.safe_load(handle)['version']
    assert _api.COLLECTION_VERSION == version and _api.USER_AGENT.endswith('/' + version)
