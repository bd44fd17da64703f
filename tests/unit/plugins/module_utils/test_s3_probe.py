# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""_s3_probe: endpoints, request targets, SigV4 (checked against botocore), sending, S3 errors and outcomes."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import email.message
import hashlib
import http.server
import io
import secrets
import ssl
import threading
import urllib.error
import urllib.parse

import pytest

from ansible_collections.cloudflare_r2.credentials.plugins.module_utils import _s3_probe

botocore_auth = pytest.importorskip('botocore.auth')
from botocore.awsrequest import AWSRequest  # noqa: E402  pylint: disable=wrong-import-position
from botocore.credentials import Credentials  # noqa: E402  pylint: disable=wrong-import-position

KEY_ID = '0f3c5e8a9b7d4c21a6e5f4d3c2b1a098'
ENDPOINT = 'https://0123456789abcdef0123456789abcdef.r2.cloudflarestorage.com'
NOW = datetime.datetime(2026, 3, 14, 15, 9, 26, tzinfo=datetime.timezone.utc)
NO_SUCH_KEY = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchKey</Code>'
               b'<Message>The specified key does not exist.</Message></Error>')


def s3_error(code, message='m'):
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>%s</Code><Message>%s</Message>'
            '<RequestId>1</RequestId></Error>' % (code, message)).encode()


def creds(secret=None, token=None, endpoint=ENDPOINT, **extra):
    return dict(access_key_id=KEY_ID, secret_access_key=secret or secrets.token_hex(32), session_token=token,
                endpoint_url=endpoint, **extra)


@pytest.fixture(autouse=True)
def _clock(monkeypatch):
    monkeypatch.setattr(_s3_probe, '_utcnow', lambda: NOW)


def botocore_authorization(url, headers, secret, token=None, access_key_id=KEY_ID):
    """botocore's S3 SigV4 Authorization header for the same GET at the time of its x-amz-date."""
    own = ('authorization', 'x-amz-date', 'x-amz-content-sha256', 'x-amz-security-token')
    request = AWSRequest(method='GET', url=url, data=b'',
                         headers=dict((k, v) for k, v in headers.items() if k not in own))
    signer = botocore_auth.S3SigV4Auth(Credentials(access_key_id, secret, token), 's3', 'auto')
    when = datetime.datetime.strptime(headers['x-amz-date'], '%Y%m%dT%H%M%SZ')
    original = botocore_auth.get_current_datetime
    botocore_auth.get_current_datetime = lambda *args, **kwargs: when
    try:
        signer.add_auth(request)
    finally:
        botocore_auth.get_current_datetime = original
    assert request.headers['X-Amz-Content-SHA256'] == headers['x-amz-content-sha256']
    return request.headers['Authorization']


# ---------------------------------------------------------------- endpoints

@pytest.mark.parametrize('url, endpoint, host', [
    ('http://127.0.0.1:9000', 'http://127.0.0.1:9000', '127.0.0.1:9000'),
    (' https://ACCOUNT.R2.cloudflarestorage.com:443/ ', 'https://ACCOUNT.R2.cloudflarestorage.com:443',
     'account.r2.cloudflarestorage.com'),
    ('HTTP://localhost:80', 'http://localhost:80', 'localhost'),
    ('https://[::1]:8443', 'https://[::1]:8443', '[::1]:8443'),
    ('https://[::1]', 'https://[::1]', '[::1]'),
    ('https://r2.example.net:8443//', 'https://r2.example.net:8443', 'r2.example.net:8443'),
])
def test_normalize_endpoint(url, endpoint, host):
    assert _s3_probe.normalize_endpoint(url) == (endpoint, host)


@pytest.mark.parametrize('url, message', [
    ('https://host.example/bucket', 'has a path or query'),
    ('https://host.example?x=1', 'has a path or query'),
    ('https://host.example#f', 'has a path or query'),
    ('ftp://host.example', 'is not an http(s)://host[:port] URL'),
    ('host.example', 'is not an http(s)://host[:port] URL'),
    ('', 'is not an http(s)://host[:port] URL'),
    (None, 'is not an http(s)://host[:port] URL'),
    ('https://host.example:99999', 'is not an http(s)://host[:port] URL'),
    ('https://host.example:port', 'is not an http(s)://host[:port] URL'),
])
def test_bad_endpoints(url, message):
    with pytest.raises(_s3_probe.ProbeError, match=message.replace('(', r'\(').replace(')', r'\)')
                       .replace('[', r'\[').replace(']', r'\]').replace('?', r'\?')) as info:
        _s3_probe.normalize_endpoint(url)
    assert info.value.retryable is False


def test_endpoint_with_a_password_is_never_echoed():
    with pytest.raises(_s3_probe.ProbeError) as info:
        _s3_probe.normalize_endpoint('https://user:s3cr3t-pw@host.example')
    assert 's3cr3t-pw' not in str(info.value) and 'user or password' in str(info.value)


# ------------------------------------------------------------------ targets

def test_uri_encode_keeps_only_unreserved_characters():
    assert _s3_probe.uri_encode('a-b_c.d~e') == 'a-b_c.d~e'
    assert _s3_probe.uri_encode('a b/c+d=e&f%g') == 'a%20b%2Fc%2Bd%3De%26f%25g'
    assert _s3_probe.uri_encode('ä') == '%C3%A4'


@pytest.mark.parametrize('operation, bucket, key, prefix, target', [
    ('list_buckets', None, None, None, ('GET', '/', '')),
    ('list_buckets', 'ignored', 'ignored', 'ignored', ('GET', '/', '')),
    ('list_objects', 'data', None, None, ('GET', '/data', 'list-type=2&max-keys=1')),
    ('list_objects', 'data', None, '', ('GET', '/data', 'list-type=2&max-keys=1&prefix=')),
    ('list_objects', 'data', None, 'a b/', ('GET', '/data', 'list-type=2&max-keys=1&prefix=a%20b%2F')),
    ('get_object', 'data', 'k', None, ('GET', '/data/k', '')),
    ('get_object', 'data', '/a//b c/', None, ('GET', '/data//a//b%20c/', '')),
    ('get_object', 'data', 'x%2Fy', None, ('GET', '/data/x%252Fy', '')),
])
def test_request_target(operation, bucket, key, prefix, target):
    assert _s3_probe.request_target(operation, bucket, key, prefix) == target


# ------------------------------------------------------------------ signing

def test_aws_documented_example_with_a_region():
    """AWS's published SigV4 example (GET Object with a Range)."""
    headers = {'host': 'examplebucket.s3.amazonaws.com', 'range': 'bytes=0-9',
               'x-amz-content-sha256': _s3_probe.EMPTY_SHA256, 'x-amz-date': '20130524T000000Z'}
    auth = _s3_probe.sign('GET', '/test.txt', '', headers, 'AKIAIOSFODNN7EXAMPLE',
                          'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', '20130524T000000Z', region='us-east-1')
    assert auth == ('AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, '
                    'SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, '
                    'Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41')
    assert _s3_probe.REGION == 'auto' and _s3_probe.EMPTY_SHA256 == hashlib.sha256(b'').hexdigest()


@pytest.mark.parametrize('operation, key, prefix', [
    ('get_object', 'r2-credentials-check', None),
    ('get_object', 'dir/sub dir/ä ü+ß=~*!(x)\'%20&?#;:,@$.txt', None),
    ('get_object', '/leading//double/trailing/', None),
    ('list_objects', None, None),
    ('list_objects', None, 'a b/ü+&=?#%2F~'),
    ('list_buckets', None, None),
])
@pytest.mark.parametrize('token', [None, secrets.token_urlsafe(96).replace('-', '+').replace('_', '/') + '=='],
                         ids=['token', 'session'])
@pytest.mark.parametrize('endpoint', [ENDPOINT, 'http://127.0.0.1:9000', 'https://[::1]:8443'])
def test_build_request_is_signed_as_botocore_signs(operation, key, prefix, token, endpoint):
    secret = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCY' + secrets.token_urlsafe(24) + '/+='
    url, headers = _s3_probe.build_request(creds(secret, token, endpoint), operation, 'backups', key, prefix)
    assert url.startswith(endpoint + '/')
    assert headers['x-amz-date'] == '20260314T150926Z'
    assert headers['host'] == urllib.parse.urlsplit(endpoint).netloc.replace(':443', '')
    assert ('range' in headers) == (operation == 'get_object')
    assert headers.get('x-amz-security-token') == token
    assert headers['authorization'] == botocore_authorization(url, headers, secret, token)
    assert secret not in url + repr(headers)


def test_build_request_at_a_given_time():
    when = datetime.datetime(2030, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
    url, headers = _s3_probe.build_request(creds(), 'list_buckets', None, None, None, now=when)
    assert (url, headers['x-amz-date']) == (ENDPOINT + '/', '20300102T030405Z')
    assert '/20300102/auto/s3/aws4_request, ' in headers['authorization']


# --------------------------------------------------------------------- HTTP

class FakeResponse(object):
    def __init__(self, status, body):
        self.status, self.body, self.closed = status, body, False

    def getcode(self):
        return self.status

    def read(self, size=-1):
        return self.body if size < 0 else self.body[:size]

    def close(self):
        self.closed = True


class FakeOpener(object):
    """Answers from a script: (status, body) or an exception; the last answer repeats."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.requests = []

    def open(self, request, timeout=None):
        self.requests.append((request.full_url, dict(request.header_items()), timeout))
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer  # pylint: disable=raising-bad-type
        status, body = answer
        if status >= 300:
            raise urllib.error.HTTPError(request.full_url, status, 'error', email.message.Message(), io.BytesIO(body))
        return FakeResponse(status, body)


@pytest.fixture
def fake(monkeypatch):
    """(opener, built_with, pauses)."""
    opener, built, pauses = FakeOpener((404, NO_SUCH_KEY)), [], []

    def build(validate_certs, ca_bundle=None):
        built.append((validate_certs, ca_bundle))
        return opener
    monkeypatch.setattr(_s3_probe, '_opener', build)
    monkeypatch.setattr(_s3_probe.time, 'sleep', pauses.append)
    return opener, built, pauses


def test_send_returns_status_and_body(fake):
    opener, built, pauses = fake
    opener.answers = [(206, b'x' * (_s3_probe.BODY_MAX + 10))]
    status, body = _s3_probe.send(ENDPOINT + '/b/k', {'host': 'h'}, 3, True, '/etc/ca.pem')
    assert (status, len(body)) == (206, _s3_probe.BODY_MAX)
    assert built == [(True, '/etc/ca.pem')] and opener.requests[0][2] == 3 and not pauses
    opener.answers = [(403, s3_error('AccessDenied'))]
    assert _s3_probe.send('http://127.0.0.1:9/b', {}, 3, False, '/etc/ca.pem') == (403, s3_error('AccessDenied'))
    assert built[-1] == (False, None)  # plain HTTP: no bundle to load


def test_send_retries_a_connection_error_once(fake):
    opener, built, pauses = fake
    opener.answers = [ConnectionResetError(104, 'reset'), (200, b'')]
    assert _s3_probe.send(ENDPOINT + '/', {}, 5, True) == (200, b'')
    assert len(opener.requests) == 2 and pauses == [_s3_probe.RETRY_PAUSE]


@pytest.mark.parametrize('error, detail', [
    (urllib.error.URLError(ConnectionRefusedError(111, 'Connection refused')), '[Errno 111] Connection refused'),
    (TimeoutError('timed out'), 'TimeoutError: timed out'),
    (ConnectionResetError(), 'ConnectionResetError'),
    (_s3_probe.http.client.RemoteDisconnected('Remote end closed connection'),
     'RemoteDisconnected: Remote end closed connection'),
])
def test_no_answer_is_retryable(fake, error, detail):
    opener, built, pauses = fake
    opener.answers = [error]
    with pytest.raises(_s3_probe.ProbeError) as info:
        _s3_probe.send(ENDPOINT + '/b/k?x=1', {}, 2.5, True)
    assert str(info.value) == 'cannot reach %s (tried twice, timeout 2.5s): %s' % (ENDPOINT, detail)
    assert info.value.retryable is True and len(opener.requests) == 2 and len(pauses) == 1


def test_untrusted_certificate_is_not_retried(fake):
    opener, built, pauses = fake
    error = ssl.SSLCertVerificationError(1, '[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed')
    error.verify_message = 'self-signed certificate'
    opener.answers = [urllib.error.URLError(error)]
    with pytest.raises(_s3_probe.ProbeError) as info:
        _s3_probe.send(ENDPOINT + '/', {}, 2, True)
    assert str(info.value).startswith('the TLS certificate of %s is not trusted (self-signed certificate)' % ENDPOINT)
    assert info.value.retryable is False and len(opener.requests) == 1


def test_missing_ca_bundle(tmp_path):
    with pytest.raises(_s3_probe.ProbeError) as info:
        _s3_probe.send(ENDPOINT + '/', {}, 2, True, str(tmp_path / 'missing.pem'))
    assert str(info.value).startswith('cannot load the CA bundle %s: ' % (tmp_path / 'missing.pem'))
    assert info.value.retryable is False


def test_opener_certificate_settings():
    for validate, mode in ((False, ssl.CERT_NONE), (True, ssl.CERT_REQUIRED)):
        opener = _s3_probe._opener(validate)  # pylint: disable=protected-access
        https = [h for h in opener.handlers if isinstance(h, _s3_probe.urllib.request.HTTPSHandler)][0]
        context = https._context  # pylint: disable=protected-access
        assert context.verify_mode == mode and context.check_hostname is validate


class _Redirector(http.server.BaseHTTPRequestHandler):
    seen = []

    def do_GET(self):  # noqa: N802  pylint: disable=invalid-name
        type(self).seen.append(self.path)
        body = s3_error('PermanentRedirect')
        self.send_response(307)
        self.send_header('Location', 'http://127.0.0.2:1/elsewhere')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # pylint: disable=arguments-differ
        pass


def test_redirect_is_not_followed():
    _Redirector.seen = []
    httpd = http.server.HTTPServer(('127.0.0.1', 0), _Redirector)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        status, body = _s3_probe.send('http://127.0.0.1:%d/b/k' % httpd.server_address[1], {}, 5, True)
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert status == 307 and _s3_probe.parse_error(body)[0] == 'PermanentRedirect' and _Redirector.seen == ['/b/k']


# ------------------------------------------------------------------ answers

@pytest.mark.parametrize('body, parsed', [
    (NO_SUCH_KEY, ('NoSuchKey', 'The specified key does not exist.')),
    (b'<Error><Code> AccessDenied </Code></Error>', ('AccessDenied', None)),
    (b'<Error><Code></Code><Message> </Message></Error>', (None, None)),
    (b'<html>Bad Gateway</html>', (None, None)),
    (b'', (None, None)),
    (b'<Error><Code>X</Code><Message>\xff\xfe</Message></Error>', ('X', '\ufffd\ufffd')),
])
def test_parse_error(body, parsed):
    assert _s3_probe.parse_error(body) == parsed


def test_long_messages_are_cut():
    code, message = _s3_probe.parse_error(s3_error('AccessDenied', 'x' * 1000))
    assert len(message) == _s3_probe.MESSAGE_MAX and message.endswith('...')


@pytest.mark.parametrize('operation, status, code, outcome', [
    ('get_object', 200, None, 'allowed'),
    ('get_object', 206, None, 'allowed'),
    ('get_object', 200, 'InternalError', 'error'),
    ('get_object', 404, 'NoSuchKey', 'allowed'),
    ('get_object', 416, 'InvalidRange', 'allowed'),
    ('list_objects', 404, 'NoSuchKey', 'error'),
    ('list_objects', 416, 'InvalidRange', 'error'),
    ('list_buckets', 200, None, 'allowed'),
    ('get_object', 404, 'NoSuchBucket', 'error'),
    ('get_object', 403, 'AccessDenied', 'denied'),
    ('get_object', 400, 'ExpiredToken', 'denied'),
    ('get_object', 400, 'InvalidToken', 'denied'),
    ('get_object', 403, 'SomethingNew', 'denied'),
    ('list_buckets', 401, None, 'denied'),
    ('get_object', 403, 'RequestTimeTooSkewed', 'error'),
    ('get_object', 400, 'AuthorizationHeaderMalformed', 'error'),
    ('get_object', 500, None, 'error'),
    ('get_object', 301, 'PermanentRedirect', 'error'),
])
def test_classify(operation, status, code, outcome):
    assert _s3_probe.classify(operation, status, code) == outcome


@pytest.mark.parametrize('expect, outcome, met', [
    ('allowed', 'allowed', True), ('allowed', 'denied', False), ('allowed', 'error', False),
    ('denied', 'denied', True), ('denied', 'allowed', False), ('denied', 'error', False),
    ('any', 'allowed', True), ('any', 'denied', True), ('any', 'error', True),
])
def test_is_met(expect, outcome, met):
    assert _s3_probe.is_met(expect, outcome) is met


# --------------------------------------------------------------- validating

@pytest.mark.parametrize('args, message', [
    (('get_object', None, 'k'), 'bucket is required with operation=get_object'),
    (('list_objects', '', None), 'bucket is required with operation=list_objects'),
    (('get_object', 'Bad_Bucket', 'k'), "bucket 'Bad_Bucket' is not an R2 bucket name"),
    (('get_object', 'ab', 'k'), "bucket 'ab' is not an R2 bucket name"),
    (('get_object', 'backups', ''), 'key may not be empty'),
    (('delete_object', 'backups', 'k'), 'operation must be one of get_object, list_objects, list_buckets'),
])
def test_validate_target_refuses(args, message):
    with pytest.raises(_s3_probe.ProbeError) as info:
        _s3_probe.validate_target(*args)
    assert str(info.value).startswith(message)


def test_validate_target_accepts():
    _s3_probe.validate_target('list_buckets', None, None)
    _s3_probe.validate_target('list_objects', 'backups', None)
    _s3_probe.validate_target('get_object', 'a-b', 'k', timeout=1)
    with pytest.raises(_s3_probe.ProbeError, match='timeout must be above 0'):
        _s3_probe.validate_target('list_buckets', None, None, timeout=0)


def test_validate_credentials():
    secret = secrets.token_hex(32)
    _s3_probe.validate_credentials(creds(secret))
    cases = [
        (dict(access_key_id=None), 'no access key id in [p] of /f'),
        (dict(access_key_id=secret[:10] + '/' + secret[10:]),
         'the access key id in [p] of /f may only have letters, digits and . _ ~ + = -'),
        (dict(secret_access_key=''), 'no secret access key in [p] of /f'),
        (dict(secret_access_key=secret + '\n'), 'the secret_access_key in [p] of /f contains a control character'),
        (dict(session_token='a\x00b'), 'the session_token in [p] of /f contains a control character'),
        (dict(endpoint_url=None), 'no endpoint: set endpoint_url, or here (the aws CLI would send these'),
        (dict(endpoint_url='https://h/p'), 'endpoint_url https://h/p has a path or query'),
    ]
    for change, message in cases:
        with pytest.raises(_s3_probe.ProbeError) as info:
            _s3_probe.validate_credentials(dict(creds(secret), where='[p] of /f', **change), ', or here')
        assert str(info.value).startswith(message), str(info.value)
        assert secret not in str(info.value)


# ------------------------------------------------------------------- probing

def test_probe_fills_the_result(fake):
    opener, built, pauses = fake
    secret = secrets.token_hex(32)
    result = {}
    outcome = _s3_probe.probe(creds(secret, ca_bundle='/etc/ca.pem'), 'get_object', 'backups', 'a b', None, 4, True,
                              result)
    assert outcome == 'allowed'
    assert result == dict(access_key_id=KEY_ID, endpoint_url=ENDPOINT, allowed=True, outcome='allowed', status=404,
                          code='NoSuchKey', message='The specified key does not exist.')
    url, headers, timeout = opener.requests[0]
    assert url == ENDPOINT + '/backups/a%20b' and timeout == 4 and built == [(True, '/etc/ca.pem')]
    headers = dict((k.lower(), v) for k, v in headers.items())
    assert headers['authorization'] == botocore_authorization(url, headers, secret)


def test_probe_success_has_no_code(fake):
    opener, built, pauses = fake
    opener.answers = [(200, b'<Error><Code>NotAnError</Code></Error>')]  # a body that looks like one is not read
    result = {}
    assert _s3_probe.probe(creds(), 'list_objects', 'backups', None, 'p/', 4, True, result) == 'allowed'
    assert (result['code'], result['message'], result['status']) == (None, None, 200)


def test_probe_without_an_answer_keeps_what_is_known(fake):
    opener, built, pauses = fake
    opener.answers = [TimeoutError('timed out')]
    result = {}
    with pytest.raises(_s3_probe.ProbeError) as info:
        _s3_probe.probe(creds(endpoint=ENDPOINT + '/'), 'list_buckets', None, None, None, 1, True, result)
    assert info.value.retryable
    assert result == dict(access_key_id=KEY_ID, endpoint_url=ENDPOINT)


@pytest.mark.parametrize('operation, bucket, expect, answer, message', [
    ('get_object', 'data', 'allowed', {'outcome': 'denied', 'status': 403, 'code': 'SignatureDoesNotMatch',
                                       'message': 'bad'},
     'who: get_object on bucket data at E: expected allowed, but R2 denied it (HTTP 403 SignatureDoesNotMatch: bad)'),
    ('list_buckets', None, 'denied', {'outcome': 'allowed', 'status': 200, 'code': None, 'message': None},
     'who: list_buckets at E: expected denied, but R2 allowed it (HTTP 200)'),
    ('list_objects', 'data', 'denied', {'outcome': 'error', 'status': 404, 'code': 'NoSuchBucket', 'message': None},
     'who: list_objects on bucket data at E: expected denied, but R2 answered with an error (HTTP 404 NoSuchBucket)'),
    ('get_object', 'data', 'allowed', {'outcome': 'error', 'status': 403, 'code': 'RequestTimeTooSkewed',
                                       'message': 'skew'},
     'who: get_object on bucket data at E: expected allowed, but R2 answered with an error (HTTP 403 '
     'RequestTimeTooSkewed: skew) (check the clock of this host)'),
])
def test_unmet_message(operation, bucket, expect, answer, message):
    assert _s3_probe.unmet_message('who', operation, bucket, expect, dict(answer, endpoint_url='E')) == message


def test_a_trailing_newline_is_refused_in_a_bucket_and_an_access_key_id():
    """Patterns hold whole strings: ``$`` would let a trailing newline through."""
    with pytest.raises(_s3_probe.ProbeError, match='is not an R2 bucket name'):
        _s3_probe.validate_target('get_object', 'media\n', 'k')
    with pytest.raises(_s3_probe.ProbeError, match='the access key id may only have'):
        _s3_probe.validate_credentials({'access_key_id': 'ed17574386854bf78a67040be0a770b0\n',
                                        'secret_access_key': 's' * 64, 'endpoint_url': 'https://x.example'})
