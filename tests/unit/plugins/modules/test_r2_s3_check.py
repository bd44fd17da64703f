# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""r2_s3_check: SigV4 signing (checked against botocore), aws CLI profile reading, outcomes and expectations,
and the checks option (many checks, client files of every kind, retries)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import email.message
import http.server
import io
import json
import os
import secrets
import ssl
import threading
import urllib.error
import urllib.parse

import pytest

from ansible_collections.cloudflare_r2.credentials.plugins.module_utils import _client_files, _ini, _s3_probe
from ansible_collections.cloudflare_r2.credentials.plugins.modules import r2_s3_check
from ansible_collections.cloudflare_r2.credentials.tests.unit.utils.ansible_module import patch_module_exits, run_module

botocore_auth = pytest.importorskip('botocore.auth')
from botocore.awsrequest import AWSRequest  # noqa: E402  pylint: disable=wrong-import-position
from botocore.credentials import Credentials  # noqa: E402  pylint: disable=wrong-import-position

KEY_ID = '0f3c5e8a9b7d4c21a6e5f4d3c2b1a098'
ENDPOINT = 'https://0123456789abcdef0123456789abcdef.r2.cloudflarestorage.com'
EU_ENDPOINT = 'https://0123456789abcdef0123456789abcdef.eu.r2.cloudflarestorage.com'
NOW = datetime.datetime(2026, 3, 14, 15, 9, 26, tzinfo=datetime.timezone.utc)
NO_SUCH_KEY = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchKey</Code>'
               b'<Message>The specified key does not exist.</Message></Error>')


def new_secret():
    return secrets.token_hex(32)


def new_session_token():
    # base64-like, with the characters that need care in headers and URLs
    return secrets.token_urlsafe(96).replace('-', '+').replace('_', '/') + '=='


def s3_error(code, message='m'):
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>%s</Code><Message>%s</Message>'
            '<RequestId>1</RequestId></Error>' % (code, message)).encode()


# ------------------------------------------------------------------ harness

@pytest.fixture(autouse=True)
def _module(monkeypatch):
    """exit_json/fail_json raise ModuleExit with what the controller would get (no_log values scrubbed);
    a fixed clock; no pause before the retry; no aws environment of the machine running the tests."""
    patch_module_exits(monkeypatch)
    monkeypatch.setattr(_s3_probe, '_utcnow', lambda: NOW)
    monkeypatch.setattr(_s3_probe, 'RETRY_PAUSE', 0)
    for name in ('AWS_SHARED_CREDENTIALS_FILE', 'AWS_CONFIG_FILE', 'AWS_CA_BUNDLE', 'AWS_PROFILE'):
        monkeypatch.delenv(name, raising=False)


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
    """Stands in for the module's urllib opener: records each request, answers from a script.

    Each answer is (status, body) or an exception to raise.
    """

    def __init__(self, *answers):
        self.answers = list(answers) or [(404, NO_SUCH_KEY)]
        self.requests = []
        self.built_with = []

    def open(self, request, timeout=None):
        headers = dict((name.lower(), value) for name, value in request.header_items())
        self.requests.append({'method': request.get_method(), 'url': request.full_url, 'headers': headers,
                              'timeout': timeout})
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            # pylint infers the type from the default answer, a tuple
            raise answer  # pylint: disable=raising-bad-type
        status, body = answer
        if status >= 300:
            raise urllib.error.HTTPError(request.full_url, status, 'error', email.message.Message(),
                                         io.BytesIO(body))
        return FakeResponse(status, body)


@pytest.fixture
def opener(monkeypatch):
    fake = FakeOpener()

    def build(validate_certs, ca_bundle=None):
        fake.built_with.append((validate_certs, ca_bundle))
        return fake
    monkeypatch.setattr(_s3_probe, '_opener', build)
    return fake


def run(check=False, **args):
    return run_module(r2_s3_check, args, check=check)


def ok(**args):
    outcome = run(**args)
    assert not outcome.failed, outcome.result.get('msg')
    return outcome.result


def failed(**args):
    outcome = run(**args)
    assert outcome.failed, outcome.result
    return outcome.result


def direct(secret, **args):
    params = dict(access_key_id=KEY_ID, secret_access_key=secret, endpoint_url=ENDPOINT, bucket='backups')
    params.update(args)
    return params


def assert_clean(result, *values):
    """None of ``values`` anywhere in the result (plain assert on a bool: no secret in the report)."""
    text = json.dumps(result)
    leaked = [index for index, value in enumerate(values) if value and value in text]
    assert not leaked, 'secret number(s) %s appear in the result' % leaked


# ----------------------------------------------------- botocore as the reference

def botocore_authorization(sent, secret, session_token=None, access_key_id=KEY_ID):
    """The Authorization header botocore's S3 signer computes for the same request at the same time.

    botocore gets the request without the headers it adds itself (date, payload hash, session token,
    authorization) and signs every header it is given, as it does for the requests of boto3 and the aws CLI.
    """
    own = ('authorization', 'x-amz-date', 'x-amz-content-sha256', 'x-amz-security-token')
    headers = dict((name, value) for name, value in sent['headers'].items() if name not in own)
    request = AWSRequest(method=sent['method'], url=sent['url'], headers=headers, data=b'')
    signer = botocore_auth.S3SigV4Auth(Credentials(KEY_ID if access_key_id is None else access_key_id, secret,
                                                   session_token), 's3', 'auto')
    when = datetime.datetime.strptime(sent['headers']['x-amz-date'], '%Y%m%dT%H%M%SZ')
    original = botocore_auth.get_current_datetime
    botocore_auth.get_current_datetime = lambda *args, **kwargs: when
    try:
        signer.add_auth(request)
    finally:
        botocore_auth.get_current_datetime = original
    assert request.headers['X-Amz-Content-SHA256'] == sent['headers']['x-amz-content-sha256']
    assert request.headers.get('X-Amz-Security-Token') == sent['headers'].get('x-amz-security-token')
    return request.headers['Authorization']


def botocore_path(endpoint, bucket, key):
    """The path-style URL path botocore builds for GetObject (from a presigned URL: no network)."""
    import boto3  # pylint: disable=import-outside-toplevel
    from botocore.config import Config  # pylint: disable=import-outside-toplevel
    config = Config(s3={'addressing_style': 'path'}, signature_version='s3v4')
    client = boto3.client('s3', endpoint_url=endpoint, region_name='auto', aws_access_key_id=KEY_ID,
                          aws_secret_access_key='x' * 40, config=config)
    url = client.generate_presigned_url('get_object', Params={'Bucket': bucket, 'Key': key})
    return urllib.parse.urlsplit(url).path


SPECIAL_KEYS = [
    'r2-credentials-check',
    'dir/sub dir/ä ü+ß=~*!(x)\'%20&?#;:,@$.txt',
    '/leading//double/trailing/',
    'emoji/\U0001f511 key',
    'literal%2Fslash and %25 percent',
]


@pytest.mark.parametrize('key', SPECIAL_KEYS)
@pytest.mark.parametrize('with_token', [False, True], ids=['token', 'session'])
def test_get_object_signature_is_botocores(opener, key, with_token):
    secret = new_secret()
    token = new_session_token() if with_token else None
    result = ok(**direct(secret, session_token=token, key=key))
    sent = opener.requests[0]
    assert sent['headers']['authorization'] == botocore_authorization(sent, secret, token)
    assert sent['headers']['range'] == 'bytes=0-0'
    assert sent['headers']['x-amz-date'] == '20260314T150926Z'
    # the path is encoded once, per segment, exactly as botocore encodes it
    assert urllib.parse.urlsplit(sent['url']).path == botocore_path(ENDPOINT, 'backups', key)
    assert result['outcome'] == 'allowed' and result['code'] == 'NoSuchKey'
    assert_clean(result, secret, token)


@pytest.mark.parametrize('endpoint, host', [
    ('http://127.0.0.1:9000', '127.0.0.1:9000'),
    ('https://ACCOUNT.R2.cloudflarestorage.com:443/', 'account.r2.cloudflarestorage.com'),
    ('http://localhost:80', 'localhost'),
    ('https://[::1]:8443', '[::1]:8443'),
    ('https://r2.example.net:8443', 'r2.example.net:8443'),
])
def test_host_header_and_port(opener, endpoint, host):
    secret = new_secret()
    token = new_session_token()
    result = ok(**direct(secret, session_token=token, endpoint_url=endpoint))
    sent = opener.requests[0]
    assert sent['headers']['host'] == host
    assert sent['url'].startswith(endpoint.rstrip('/') + '/backups/')
    assert sent['headers']['authorization'] == botocore_authorization(sent, secret, token)
    assert result['endpoint_url'] == endpoint.rstrip('/')


@pytest.mark.parametrize('prefix', [None, '', 'web1/', 'a b/ü+&=?#%2F~'])
def test_list_objects_signature_and_query(opener, prefix):
    secret = new_secret()
    opener.answers = [(200, b'<ListBucketResult/>')]
    args = direct(secret, operation='list_objects', endpoint_url='http://127.0.0.1:9000')
    if prefix is not None:
        args['prefix'] = prefix
    result = ok(**args)
    sent = opener.requests[0]
    assert 'range' not in sent['headers']
    query = urllib.parse.urlsplit(sent['url']).query
    assert urllib.parse.parse_qs(query, keep_blank_values=True) == dict(
        [('list-type', ['2']), ('max-keys', ['1'])] + ([('prefix', [prefix])] if prefix is not None else []))
    assert sent['headers']['authorization'] == botocore_authorization(sent, secret)
    assert result['allowed'] is True and result['status'] == 200 and result['code'] is None


def test_list_buckets_needs_no_bucket(opener):
    secret = new_secret()
    opener.answers = [(200, b'<ListAllMyBucketsResult/>')]
    result = ok(access_key_id=KEY_ID, secret_access_key=secret, endpoint_url=ENDPOINT, operation='list_buckets')
    sent = opener.requests[0]
    assert sent['url'] == ENDPOINT + '/'
    assert sent['headers']['authorization'] == botocore_authorization(sent, secret)
    assert result['allowed'] is True


def test_secret_with_special_characters(opener):
    secret = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCY' + secrets.token_urlsafe(24) + '/+='
    ok(**direct(secret))
    sent = opener.requests[0]
    assert sent['headers']['authorization'] == botocore_authorization(sent, secret)


def test_aws_documented_example():
    """AWS's published SigV4 example (GET Object with a Range), with its region instead of auto."""
    headers = {'host': 'examplebucket.s3.amazonaws.com', 'range': 'bytes=0-9',
               'x-amz-content-sha256': _s3_probe.EMPTY_SHA256, 'x-amz-date': '20130524T000000Z'}
    original = _s3_probe.REGION
    _s3_probe.REGION = 'us-east-1'
    try:
        auth = _s3_probe.sign('GET', '/test.txt', '', headers, 'AKIAIOSFODNN7EXAMPLE',
                              'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', '20130524T000000Z')
    finally:
        _s3_probe.REGION = original
    assert auth == ('AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, '
                    'SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, '
                    'Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41')


# -------------------------------------------------- over a real socket

class _Recorder(http.server.BaseHTTPRequestHandler):
    seen = []
    answer = (404, NO_SUCH_KEY, {})

    def do_GET(self):  # noqa: N802  pylint: disable=invalid-name
        type(self).seen.append({'path': self.path, 'headers': [(k.lower(), v) for k, v in self.headers.items()]})
        status, body, headers = type(self).answer
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # pylint: disable=arguments-differ
        pass


@pytest.fixture
def server():
    _Recorder.seen = []
    _Recorder.answer = (404, NO_SUCH_KEY, {})
    httpd = http.server.HTTPServer(('127.0.0.1', 0), _Recorder)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def test_real_request_on_the_wire_verifies(server):
    """Through the real urllib opener: what arrives (Host with the port, every signed header) verifies."""
    secret, token = new_secret(), new_session_token()
    endpoint = 'http://127.0.0.1:%d' % server.server_address[1]
    key = 'dir/ä b+c'
    result = ok(**direct(secret, session_token=token, endpoint_url=endpoint, key=key))
    assert result['outcome'] == 'allowed' and result['status'] == 404
    received = _Recorder.seen[0]
    headers = dict(received['headers'])
    assert headers['host'] == '127.0.0.1:%d' % server.server_address[1]
    signed = headers['authorization'].split('SignedHeaders=')[1].split(',')[0].split(';')
    assert signed == ['host', 'range', 'x-amz-content-sha256', 'x-amz-date', 'x-amz-security-token']
    sent = {'method': 'GET', 'url': endpoint + received['path'],
            'headers': dict((name, headers[name]) for name in signed + ['authorization'])}
    assert headers['authorization'] == botocore_authorization(sent, secret, token)


def test_redirect_is_reported_not_followed(server):
    _Recorder.answer = (301, s3_error('PermanentRedirect'), {'Location': 'http://127.0.0.2:1/elsewhere'})
    endpoint = 'http://127.0.0.1:%d' % server.server_address[1]
    result = failed(**direct(new_secret(), endpoint_url=endpoint))
    assert (result['outcome'], result['status'], result['code']) == ('error', 301, 'PermanentRedirect')
    assert len(_Recorder.seen) == 1


def test_opener_certificate_settings():
    unverified = _s3_probe._opener(False)  # pylint: disable=protected-access
    https = [h for h in unverified.handlers if isinstance(h, _s3_probe.urllib.request.HTTPSHandler)][0]
    context = https._context  # pylint: disable=protected-access
    assert context.verify_mode == ssl.CERT_NONE and not context.check_hostname
    verified = _s3_probe._opener(True)  # pylint: disable=protected-access
    https = [h for h in verified.handlers if isinstance(h, _s3_probe.urllib.request.HTTPSHandler)][0]
    assert https._context.verify_mode == ssl.CERT_REQUIRED  # pylint: disable=protected-access


# ----------------------------------------------------------------- profiles

def write(path, text):
    path.write_text(text, encoding='utf-8')
    path.chmod(0o600)
    return str(path)


@pytest.fixture
def files(tmp_path):
    """(credentials path, config path) with a named profile, a default and an unrelated one."""
    keys = {'backup': new_secret(), 'default': new_secret(), 'other': new_secret()}
    creds = write(tmp_path / 'credentials', (
        '# hand-written\n'
        '[other]\naws_access_key_id = AKIAOTHER\naws_secret_access_key = %(other)s\n\n'
        '[backup]\n'
        'aws_access_key_id = %(key_id)s\n'
        'aws_secret_access_key = %(backup)s\n'
        'r2_expiration = 2026-03-14T16:00:00Z\n\n'
        '[default]\naws_access_key_id=DEFAULTKEY\naws_secret_access_key=%(default)s\n'
    ) % dict(keys, key_id=KEY_ID))
    config = write(tmp_path / 'config', (
        '[default]\nregion = auto\nendpoint_url = %s\n\n'
        '[profile backup]\n'
        'region = auto\n'
        'endpoint_url = %s/\n'
        's3 =\n  addressing_style = path\n'
        'request_checksum_calculation = when_required\n\n'
        '[profile other]\nendpoint_url = https://elsewhere.example.net\n'
    ) % (ENDPOINT, EU_ENDPOINT))
    return creds, config, keys


def test_named_profile(opener, files):
    creds, config, keys = files
    result = ok(profile='backup', credentials_file=creds, config_file=config, bucket='backups')
    sent = opener.requests[0]
    assert sent['url'].startswith(EU_ENDPOINT + '/backups/')
    assert sent['headers']['authorization'] == botocore_authorization(sent, keys['backup'])
    assert 'x-amz-security-token' not in sent['headers']
    assert (result['access_key_id'], result['endpoint_url']) == (KEY_ID, EU_ENDPOINT)
    assert result['changed'] is False and result['allowed'] is True
    assert_clean(result, *keys.values())


def test_default_profile_and_files_from_the_environment(opener, files, monkeypatch):
    creds, config, keys = files
    monkeypatch.setenv('AWS_SHARED_CREDENTIALS_FILE', creds)
    monkeypatch.setenv('AWS_CONFIG_FILE', config)
    result = ok(profile='default', bucket='backups')
    sent = opener.requests[0]
    assert sent['url'].startswith(ENDPOINT + '/backups/')
    assert sent['headers']['authorization'] == botocore_authorization(sent, keys['default'],
                                                                      access_key_id='DEFAULTKEY')
    assert result['access_key_id'] == 'DEFAULTKEY'
    monkeypatch.setenv('AWS_SHARED_CREDENTIALS_FILE', '/nonexistent/credentials')
    result = ok(profile='backup', credentials_file=creds, bucket='backups')  # the option wins
    assert result['endpoint_url'] == EU_ENDPOINT


def test_home_files_by_default(opener, tmp_path, monkeypatch):
    secret = new_secret()
    (tmp_path / '.aws').mkdir()
    write(tmp_path / '.aws' / 'credentials', '[x]\naws_access_key_id = %s\naws_secret_access_key = %s\n'
          % (KEY_ID, secret))
    write(tmp_path / '.aws' / 'config', '[profile x]\nendpoint_url = %s\n' % ENDPOINT)
    monkeypatch.setenv('HOME', str(tmp_path))
    ok(profile='x', bucket='backups')
    assert opener.requests[0]['headers']['authorization'] == botocore_authorization(opener.requests[0], secret)


def test_profile_default_section_in_config(opener, tmp_path):
    secret = new_secret()
    creds = write(tmp_path / 'credentials', '[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n'
                  % (KEY_ID, secret))
    config = write(tmp_path / 'config', '[profile default]\nendpoint_url = %s\n' % EU_ENDPOINT)
    result = ok(profile='default', credentials_file=creds, config_file=config, bucket='backups')
    assert result['endpoint_url'] == EU_ENDPOINT


def test_session_token_and_the_older_name(opener, tmp_path):
    secret, token, old = new_secret(), new_session_token(), new_session_token()
    creds = write(tmp_path / 'credentials', (
        '[temp]\naws_access_key_id = %s\naws_secret_access_key = %s\naws_session_token = %s\n'
        '[legacy]\naws_access_key_id = %s\naws_secret_access_key = %s\naws_session_token = %s\n'
        'aws_security_token = %s\n') % (KEY_ID, secret, token, KEY_ID, secret, token, old))
    config = write(tmp_path / 'config', '[profile temp]\nendpoint_url = %s\n[profile legacy]\nendpoint_url = %s\n'
                   % (ENDPOINT, ENDPOINT))
    result = ok(profile='temp', credentials_file=creds, config_file=config, bucket='backups')
    sent = opener.requests[0]
    assert sent['headers']['x-amz-security-token'] == token
    assert sent['headers']['authorization'] == botocore_authorization(sent, secret, token)
    assert_clean(result, secret, token)
    ok(profile='legacy', credentials_file=creds, config_file=config, bucket='backups')
    assert opener.requests[1]['headers']['x-amz-security-token'] == old  # botocore reads this one first


def test_credentials_in_the_config_file(opener, tmp_path):
    """The aws CLI falls back to keys in [profile NAME] of the config when the credentials file has none."""
    secret = new_secret()
    creds = write(tmp_path / 'credentials', '[cfg]\nregion = auto\n')
    config = write(tmp_path / 'config', '[profile cfg]\nendpoint_url = %s\naws_access_key_id = %s\n'
                   'aws_secret_access_key = %s\n' % (ENDPOINT, KEY_ID, secret))
    ok(profile='cfg', credentials_file=creds, config_file=config, bucket='backups')
    assert opener.requests[0]['headers']['authorization'] == botocore_authorization(opener.requests[0], secret)
    ok(profile='cfg', credentials_file=str(tmp_path / 'missing'), config_file=config, bucket='backups')


def test_services_section_and_option_override(opener, files, tmp_path):
    creds, config, keys = files
    config = write(tmp_path / 'config2', (
        '[profile backup]\nendpoint_url = %s\nservices = r2\n\n'
        '[services r2]\ns3 =\n  endpoint_url = http://127.0.0.1:9000\n') % ENDPOINT)
    result = ok(profile='backup', credentials_file=creds, config_file=config, bucket='backups')
    assert result['endpoint_url'] == 'http://127.0.0.1:9000'
    result = ok(profile='backup', credentials_file=creds, config_file=config, bucket='backups',
                endpoint_url=EU_ENDPOINT + '/')
    assert result['endpoint_url'] == EU_ENDPOINT
    assert opener.requests[1]['headers']['authorization'] == botocore_authorization(opener.requests[1],
                                                                                    keys['backup'])


def test_missing_secret_names_file_section_and_key(opener, tmp_path):
    token, other = new_session_token(), new_secret()
    creds = write(tmp_path / 'credentials', '[half]\naws_access_key_id = %s\naws_session_token = %s\n'
                  '[full]\naws_access_key_id = X\naws_secret_access_key = %s\n' % (KEY_ID, token, other))
    result = failed(profile='half', credentials_file=creds, config_file=str(tmp_path / 'config'),
                    bucket='backups')
    assert result['msg'] == 'profile half: [half] of %s has no value for aws_secret_access_key' % creds
    assert_clean(result, token, other)
    assert not opener.requests


def test_empty_secret_is_missing(opener, tmp_path):
    creds = write(tmp_path / 'credentials', '[e]\naws_access_key_id = %s\naws_secret_access_key =\n' % KEY_ID)
    result = failed(profile='e', credentials_file=creds, config_file=str(tmp_path / 'c'), bucket='backups')
    assert 'has no value for aws_secret_access_key' in result['msg']


def test_profile_not_found(opener, files):
    creds, config, keys = files
    result = failed(profile='nope', credentials_file=creds, config_file=config, bucket='backups')
    assert result['msg'] == 'profile nope not found: no [nope] in %s and no [profile nope] in %s' % (creds, config)
    assert_clean(result, *keys.values())


def test_profile_without_static_keys(opener, tmp_path):
    config = write(tmp_path / 'config', '[profile sso]\nsso_session = corp\nendpoint_url = %s\n' % ENDPOINT)
    result = failed(profile='sso', credentials_file=str(tmp_path / 'none'), config_file=config, bucket='backups')
    assert 'neither in [sso] of %s nor in [profile sso] of %s' % (tmp_path / 'none', config) in result['msg']
    assert 'it uses sso_session, which this module does not run' in result['msg']


def test_parse_errors_never_quote_the_line(opener, tmp_path):
    secret = new_secret()
    creds = write(tmp_path / 'credentials', 'aws_secret_access_key = %s\n[x]\n' % secret)
    result = failed(profile='x', credentials_file=creds, config_file=str(tmp_path / 'c'), bucket='backups')
    assert result['msg'] == 'cannot parse %s: line 1 comes before any [section] header' % creds
    creds = write(tmp_path / 'credentials', '[x]\naws_access_key_id = %s\n%s\n' % (KEY_ID, secret))
    result = failed(profile='x', credentials_file=creds, config_file=str(tmp_path / 'c'), bucket='backups')
    assert result['msg'].startswith('cannot parse %s: line(s) 3 are neither' % creds)
    creds = write(tmp_path / 'credentials', '[x]\naws_secret_access_key = %s\n[x]\n' % secret)
    result = failed(profile='x', credentials_file=creds, config_file=str(tmp_path / 'c'), bucket='backups')
    assert 'section [x] appears twice (line 3)' in result['msg']
    assert_clean(result, secret)


def test_unknown_services_section(opener, files, tmp_path):
    creds, dummy, keys = files
    config = write(tmp_path / 'config2', '[profile backup]\nservices = r2\n')
    result = failed(profile='backup', credentials_file=creds, config_file=config, bucket='backups')
    assert 'names services r2, but there is no [services r2]' in result['msg']
    assert_clean(result, *keys.values())


def test_no_endpoint_anywhere(opener, files, tmp_path):
    creds, dummy, keys = files
    result = failed(profile='backup', credentials_file=creds, config_file=str(tmp_path / 'none'), bucket='backups')
    assert result['msg'].startswith('no endpoint: set endpoint_url, or endpoint_url in the profile')
    assert not opener.requests
    assert_clean(result, *keys.values())


def test_secrets_from_files_are_masked_even_if_echoed(opener, files):
    """Secrets read from the files are not module parameters: the module masks them itself."""
    creds, config, keys = files
    opener.answers = [(403, s3_error('AccessDenied', 'echo %s' % keys['backup']))]
    result = failed(profile='backup', credentials_file=creds, config_file=config, bucket='backups')
    assert_clean(result, *keys.values())
    assert '********' in result['message']


def test_ca_bundle_of_the_profile_and_environment(opener, tmp_path, monkeypatch):
    secret = new_secret()
    creds = write(tmp_path / 'credentials', '[x]\naws_access_key_id = %s\naws_secret_access_key = %s\n'
                  % (KEY_ID, secret))
    config = write(tmp_path / 'config', '[profile x]\nendpoint_url = %s\nca_bundle = /etc/corp-ca.pem\n' % ENDPOINT)
    ok(profile='x', credentials_file=creds, config_file=config, bucket='backups')
    monkeypatch.setenv('AWS_CA_BUNDLE', '/etc/env-ca.pem')
    ok(profile='x', credentials_file=creds, config_file=config, bucket='backups', validate_certs=False)
    assert opener.built_with == [(True, '/etc/corp-ca.pem'), (False, '/etc/env-ca.pem')]
    ok(**direct(secret))
    assert opener.built_with[-1] == (True, None)
    ok(profile='x', credentials_file=creds, config_file=config, bucket='backups', endpoint_url='http://127.0.0.1:9')
    assert opener.built_with[-1] == (True, None)  # plain HTTP: no bundle to load


def test_missing_ca_bundle(tmp_path, monkeypatch):
    monkeypatch.setenv('AWS_CA_BUNDLE', str(tmp_path / 'missing.pem'))
    secret = new_secret()
    creds = write(tmp_path / 'credentials', '[x]\naws_access_key_id = %s\naws_secret_access_key = %s\n'
                  % (KEY_ID, secret))
    config = write(tmp_path / 'config', '[profile x]\nendpoint_url = %s\n' % ENDPOINT)
    result = failed(profile='x', credentials_file=creds, config_file=config, bucket='backups')
    assert result['msg'].startswith('cannot load the CA bundle %s: ' % (tmp_path / 'missing.pem'))


# ------------------------------------------------------------------ outcomes

@pytest.mark.parametrize('operation, status, code, outcome', [
    ('get_object', 200, None, 'allowed'),
    ('get_object', 206, None, 'allowed'),
    ('get_object', 404, 'NoSuchKey', 'allowed'),
    ('get_object', 416, 'InvalidRange', 'allowed'),
    ('list_objects', 200, None, 'allowed'),
    ('list_objects', 404, 'NoSuchKey', 'error'),
    ('get_object', 404, 'NoSuchBucket', 'error'),
    ('list_objects', 404, 'NoSuchBucket', 'error'),
    ('get_object', 403, 'AccessDenied', 'denied'),
    ('get_object', 403, 'SignatureDoesNotMatch', 'denied'),
    ('get_object', 403, 'InvalidAccessKeyId', 'denied'),
    ('get_object', 400, 'ExpiredToken', 'denied'),
    ('get_object', 400, 'InvalidToken', 'denied'),
    ('list_buckets', 401, 'Unauthorized', 'denied'),
    ('list_buckets', 401, None, 'denied'),
    ('get_object', 403, None, 'denied'),
    ('get_object', 403, 'SomethingNew', 'denied'),
    ('get_object', 403, 'RequestTimeTooSkewed', 'error'),
    ('get_object', 400, 'AuthorizationHeaderMalformed', 'error'),
    ('get_object', 404, None, 'error'),
    ('get_object', 500, 'InternalError', 'error'),
    ('get_object', 503, None, 'error'),
    ('get_object', 301, 'PermanentRedirect', 'error'),
])
def test_classify(operation, status, code, outcome):
    assert _s3_probe.classify(operation, status, code) == outcome


@pytest.mark.parametrize('status, body, outcome, code', [
    (206, b'x', 'allowed', None),
    (404, NO_SUCH_KEY, 'allowed', 'NoSuchKey'),
    (404, s3_error('NoSuchBucket', 'The specified bucket does not exist.'), 'error', 'NoSuchBucket'),
    (403, s3_error('AccessDenied', 'Access Denied'), 'denied', 'AccessDenied'),
    (403, s3_error('SignatureDoesNotMatch'), 'denied', 'SignatureDoesNotMatch'),
    (403, s3_error('InvalidAccessKeyId'), 'denied', 'InvalidAccessKeyId'),
    (400, s3_error('ExpiredToken'), 'denied', 'ExpiredToken'),
    (401, b'<html>Unauthorized</html>', 'denied', None),
    (502, b'Bad Gateway', 'error', None),
])
def test_outcome_reported_with_expect_any(opener, status, body, outcome, code):
    opener.answers = [(status, body)]
    result = ok(**direct(new_secret(), expect='any'))
    assert (result['outcome'], result['allowed'], result['status'], result['code']) == \
        (outcome, outcome == 'allowed', status, code)
    assert result['changed'] is False


def test_message_is_truncated(opener):
    opener.answers = [(403, s3_error('AccessDenied', 'x' * 1000))]
    result = ok(**direct(new_secret(), expect='denied'))
    assert len(result['message']) == 300 and result['message'].endswith('...')


# ----------------------------------------------------------------- expect

def test_expect_allowed_but_denied(opener, files):
    creds, config, keys = files
    opener.answers = [(403, s3_error('SignatureDoesNotMatch', 'The request signature we calculated does not match'))]
    result = failed(profile='backup', credentials_file=creds, config_file=config, bucket='backups',
                    operation='get_object', key='probe')
    assert result['msg'] == (
        'profile backup (access key %s): get_object on bucket backups at %s: expected allowed, but R2 denied it '
        '(HTTP 403 SignatureDoesNotMatch: The request signature we calculated does not match)' % (KEY_ID, EU_ENDPOINT))
    assert (result['allowed'], result['outcome'], result['code']) == (False, 'denied', 'SignatureDoesNotMatch')
    assert_clean(result, *keys.values())


def test_expect_denied(opener):
    secret = new_secret()
    opener.answers = [(403, s3_error('InvalidAccessKeyId'))]
    result = ok(**direct(secret, expect='denied'))
    assert result['allowed'] is False and result['code'] == 'InvalidAccessKeyId'
    opener.answers = [(404, NO_SUCH_KEY)]
    result = failed(**direct(secret, expect='denied', operation='list_objects', prefix='p/'))
    assert result['msg'].startswith('access key %s: list_objects on bucket backups at %s: expected denied, but '
                                    'R2 answered with an error (HTTP 404 NoSuchKey' % (KEY_ID, ENDPOINT))
    opener.answers = [(200, b'')]
    result = failed(**direct(secret, expect='denied', operation='list_buckets'))
    assert 'list_buckets at %s: expected denied, but R2 allowed it (HTTP 200)' % ENDPOINT in result['msg']
    assert_clean(result, secret)


def test_no_such_bucket_is_neither_allowed_nor_denied(opener):
    opener.answers = [(404, s3_error('NoSuchBucket'))]
    for expect in ('allowed', 'denied'):
        result = failed(**direct(new_secret(), expect=expect))
        assert result['code'] == 'NoSuchBucket' and result['allowed'] is False
        assert 'R2 answered with an error (HTTP 404 NoSuchBucket' in result['msg']


def test_clock_skew_hint(opener):
    opener.answers = [(403, s3_error('RequestTimeTooSkewed'))]
    result = failed(**direct(new_secret()))
    assert result['msg'].endswith('(check the clock of this host)')


def test_check_mode_sends_the_same_request(opener):
    secret = new_secret()
    result = ok(check=True, **direct(secret))
    assert result['changed'] is False and result['allowed'] is True
    assert len(opener.requests) == 1
    assert opener.requests[0]['headers']['authorization'] == botocore_authorization(opener.requests[0], secret)


def test_no_secret_in_the_invocation(opener):
    secret, token = new_secret(), new_session_token()
    result = ok(**direct(secret, session_token=token))
    assert result['invocation']['module_args']['secret_access_key'] == 'VALUE_SPECIFIED_IN_NO_LOG_PARAMETER'
    assert_clean(result, secret, token)


def test_timeout_is_passed(opener):
    ok(**direct(new_secret(), timeout=2.5))
    assert opener.requests[0]['timeout'] == 2.5


# ------------------------------------------------------- connection errors

def test_connection_error_is_retried_once(opener):
    opener.answers = [urllib.error.URLError(ConnectionRefusedError(111, 'Connection refused'))]
    result = failed(**direct(new_secret()))
    assert len(opener.requests) == 2
    assert result['msg'] == ('cannot reach %s (tried twice, timeout 10.0s): [Errno 111] Connection refused'
                             % ENDPOINT)
    assert result['endpoint_url'] == ENDPOINT and 'status' not in result


def test_second_attempt_succeeds(opener):
    opener.answers = [ConnectionResetError(104, 'reset'), (404, NO_SUCH_KEY)]
    result = ok(**direct(new_secret()))
    assert len(opener.requests) == 2 and result['allowed'] is True


def test_timeout_fails_even_with_expect_any(opener):
    opener.answers = [TimeoutError('timed out')]
    result = failed(**direct(new_secret(), expect='any'))
    assert result['msg'].endswith('TimeoutError: timed out')


def test_certificate_error_is_not_retried(opener):
    error = ssl.SSLCertVerificationError(1, '[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed')
    error.verify_message = 'self-signed certificate'
    opener.answers = [urllib.error.URLError(error)]
    result = failed(**direct(new_secret()))
    assert len(opener.requests) == 1
    assert result['msg'].startswith('the TLS certificate of %s is not trusted (self-signed certificate)' % ENDPOINT)


# ------------------------------------------------------------------- input

@pytest.mark.parametrize('endpoint, message', [
    ('https://host.example/bucket', 'has a path or query'),
    ('https://host.example/?x=1', 'has a path or query'),
    ('ftp://host.example', 'is not an http(s)://host[:port] URL'),
    ('host.example', 'is not an http(s)://host[:port] URL'),
    ('https://user:s3cr3t-pw@host.example', 'may not contain a user or password'),
    ('https://host.example:99999', 'is not an http(s)://host[:port] URL'),
])
def test_bad_endpoint(opener, endpoint, message):
    result = failed(**direct(new_secret(), endpoint_url=endpoint))
    assert message in result['msg'] and not opener.requests
    assert 's3cr3t-pw' not in result['msg']


def test_bad_input(opener):
    secret = new_secret()
    assert 'is not an R2 bucket name' in failed(**direct(secret, bucket='Bad_Bucket'))['msg']
    assert 'bucket' in failed(**direct(secret, bucket=None))['msg']
    assert 'key may not be empty' in failed(**direct(secret, key=''))['msg']
    result = failed(**direct(secret, access_key_id=secret[:20] + '/' + secret[20:]))
    assert result['msg'] == 'the access key id may only have letters, digits and . _ ~ + = -'
    assert_clean(result, secret)
    assert 'control character' in failed(**direct(secret, session_token='a\nb'))['msg']
    assert 'mutually exclusive' in failed(**direct(secret, profile='x'))['msg']
    assert 'one of the following is required' in failed(bucket='b')['msg']
    assert 'secret_access_key' in failed(access_key_id=KEY_ID, endpoint_url=ENDPOINT, bucket='backups')['msg']
    result = failed(access_key_id=KEY_ID, secret_access_key=secret, bucket='backups')
    assert 'no endpoint: set endpoint_url (' in result['msg']
    assert 'timeout must be above 0' in failed(**direct(secret, timeout=0))['msg']
    assert not opener.requests


# ------------------------------------------------------------------- checks

SOME_SECRET = secrets.token_hex(32)


def client_profile(name, secret, endpoint, key_id=KEY_ID, token=None):
    """A profile as _client_files renders it."""
    return {'name': name, 'state': 'present', 'access_key_id': key_id, 'secret_access_key': secret,
            'session_token': token, 'endpoint': endpoint, 'addressing_style': 'path', 'object_level': True,
            'expiration': None, 'fingerprint': None, 'rclone': True, 's3cmd': True, 'env_file': True}


@pytest.fixture
def clients(tmp_path):
    """{kind: (path, secret, token)}: an rclone.conf, an s3cmd file and an env file, written as the collection
    writes them, each with its own secret and endpoint."""
    out = {}
    rclone = client_profile('backup', new_secret(), 'http://127.0.0.1:9001', token=new_session_token())
    text = _ini.apply('[other]\ntype = s3\naccess_key_id = X\nsecret_access_key = %s\n' % new_secret(), 'backup',
                      _client_files.section_values('rclone', rclone), 'present')[0]
    out['rclone'] = (write(tmp_path / 'rclone.conf', text), rclone['secret_access_key'], rclone['session_token'])
    s3cmd = client_profile('backup', new_secret(), 'https://r2.example.net:8443')
    path = str(tmp_path / '.s3cfg-backup')
    out['s3cmd'] = (write(tmp_path / '.s3cfg-backup', _client_files.whole_text('s3cmd', s3cmd, path)),
                    s3cmd['secret_access_key'], None)
    env = client_profile('backup', new_secret(), EU_ENDPOINT, token=new_session_token())
    path = str(tmp_path / 'backup.env')
    out['env_file'] = (write(tmp_path / 'backup.env', _client_files.whole_text('env_file', env, path)),
                       env['secret_access_key'], env['session_token'])
    return out


def run_checks(checks, **args):
    return run(checks=checks, **args)


def by_name(result):
    return dict((entry['name'], entry) for entry in result['checks'])


def test_checks_every_source(opener, files, clients):
    creds, config, keys = files
    values_secret, values_token = new_secret(), new_session_token()
    outcome = run_checks([
        {'name': 'aws', 'profile': 'backup', 'credentials_file': creds, 'config_file': config},
        {'name': 'rclone', 'source': 'rclone', 'path': clients['rclone'][0], 'section': 'backup'},
        {'name': 's3cmd', 'source': 's3cmd', 'path': clients['s3cmd'][0]},
        {'name': 'env', 'source': 'env_file', 'path': clients['env_file'][0]},
        {'name': 'values', 'source': 'values', 'access_key_id': 'VALUESKEY', 'secret_access_key': values_secret,
         'session_token': values_token, 'endpoint_url': ENDPOINT},
    ], bucket='backups')
    assert not outcome.failed, outcome.result['msg']
    result = outcome.result
    assert [entry['name'] for entry in result['checks']] == ['aws', 'rclone', 's3cmd', 'env', 'values']
    expected = [
        ('aws', EU_ENDPOINT, keys['backup'], None, KEY_ID),
        ('rclone', 'http://127.0.0.1:9001', clients['rclone'][1], clients['rclone'][2], KEY_ID),
        ('s3cmd', 'https://r2.example.net:8443', clients['s3cmd'][1], None, KEY_ID),
        ('env_file', EU_ENDPOINT, clients['env_file'][1], clients['env_file'][2], KEY_ID),
        ('values', ENDPOINT, values_secret, values_token, 'VALUESKEY'),
    ]
    assert len(opener.requests) == 5
    for sent, entry, (source, endpoint, secret, token, key_id) in zip(opener.requests, result['checks'], expected):
        assert sent['url'] == endpoint + '/backups/r2-credentials-check'
        assert sent['headers']['authorization'] == botocore_authorization(sent, secret, token, access_key_id=key_id)
        assert entry == dict(name=entry['name'], source=source, outcome='allowed', status=404, code='NoSuchKey',
                             message='The specified key does not exist.', allowed=True, access_key_id=key_id,
                             endpoint_url=endpoint, attempts=1, failed=False, msg=None)
    assert result['changed'] is False and 'outcome' not in result and 'allowed' not in result
    assert_clean(result, values_secret, values_token, *([keys['backup']] + [c[1] for c in clients.values()]
                                                        + [c[2] for c in clients.values()]))


def test_checks_mixed_expectations_one_message(opener, files, clients, tmp_path):
    creds, config, keys = files
    opener.answers = [(404, NO_SUCH_KEY), (403, s3_error('SignatureDoesNotMatch', 'bad signature')),
                      (403, s3_error('InvalidAccessKeyId', 'gone')), (200, b'<ListBucketResult/>')]
    outcome = run_checks([
        {'name': 'new', 'profile': 'backup'},
        {'name': 'still-old', 'source': 'rclone', 'path': clients['rclone'][0], 'section': 'backup',
         'expect': 'allowed'},
        {'name': 'old', 'source': 's3cmd', 'path': clients['s3cmd'][0]},
        {'name': 'should-be-refused', 'source': 'env_file', 'path': clients['env_file'][0], 'bucket': 'logs',
         'operation': 'list_objects', 'prefix': 'p/'},
        {'name': 'no file', 'source': 'env_file', 'path': str(tmp_path / 'missing.env')},
    ], bucket='backups', expect='denied', credentials_file=creds, config_file=config)
    assert outcome.failed
    result = outcome.result
    checks = by_name(result)
    assert [(c['name'], c['outcome'], c['failed'], c['attempts']) for c in result['checks']] == [
        ('new', 'allowed', True, 1), ('still-old', 'denied', True, 1), ('old', 'denied', False, 1),
        ('should-be-refused', 'allowed', True, 1), ('no file', None, True, 0)]
    assert checks['no file'] == dict(name='no file', source='env_file', outcome=None, status=None, code=None,
                                     message=None, allowed=False, access_key_id=None, endpoint_url=None, attempts=0,
                                     failed=True, msg='%s does not exist' % (tmp_path / 'missing.env'))
    assert opener.requests[3]['url'] == EU_ENDPOINT + '/logs?list-type=2&max-keys=1&prefix=p%2F'
    assert result['msg'] == (
        '4 of 5 checks failed: '
        'new: profile backup (access key %s): get_object on bucket backups at %s: expected denied, but R2 allowed '
        'it (HTTP 404 NoSuchKey: The specified key does not exist.); '
        'still-old: rclone remote backup of %s (access key %s): get_object on bucket backups at http://127.0.0.1:9001: '
        'expected allowed, but R2 denied it (HTTP 403 SignatureDoesNotMatch: bad signature); '
        'should-be-refused: env file %s (access key %s): list_objects on bucket logs at %s: expected denied, but R2 '
        'allowed it (HTTP 200); '
        'no file: %s does not exist' % (KEY_ID, EU_ENDPOINT, clients['rclone'][0], KEY_ID, clients['env_file'][0],
                                        KEY_ID, EU_ENDPOINT, tmp_path / 'missing.env'))
    assert checks['still-old']['msg'] in result['msg']
    assert_clean(result, keys['backup'], *[c[1] for c in clients.values()])


def test_checks_only_the_failing_ones_are_retried(opener, files, monkeypatch):
    creds, config, keys = files
    pauses = []
    monkeypatch.setattr(r2_s3_check.time, 'sleep', pauses.append)
    opener.answers = [(404, NO_SUCH_KEY), (403, s3_error('InvalidAccessKeyId')), (200, b''),
                      (404, NO_SUCH_KEY), (403, s3_error('InvalidAccessKeyId'))]
    secret = new_secret()
    result = ok(checks=[
        {'name': 'a', 'profile': 'backup'},
        {'name': 'b', 'source': 'values', 'access_key_id': 'NEWKEY', 'secret_access_key': secret,
         'endpoint_url': ENDPOINT},
        {'name': 'c', 'source': 'values', 'access_key_id': 'OLDKEY', 'secret_access_key': secret,
         'endpoint_url': ENDPOINT, 'operation': 'list_buckets', 'expect': 'denied'},
    ], bucket='backups', credentials_file=creds, config_file=config, retries=3, delay=7.5)
    # round 1: a ok, b denied, c allowed (unmet); round 2: c denied now, b ok
    assert [(c['name'], c['attempts'], c['outcome']) for c in result['checks']] == [
        ('a', 1, 'allowed'), ('b', 2, 'allowed'), ('c', 2, 'denied')]
    assert [urllib.parse.urlsplit(r['url']).path for r in opener.requests] == [
        '/backups/r2-credentials-check', '/backups/r2-credentials-check', '/', '/backups/r2-credentials-check', '/']
    assert pauses == [7.5]
    # each attempt is signed again
    assert opener.requests[1]['headers']['authorization'] == botocore_authorization(opener.requests[1], secret,
                                                                                    access_key_id='NEWKEY')


def test_checks_retries_run_out(opener, monkeypatch):
    pauses = []
    monkeypatch.setattr(r2_s3_check.time, 'sleep', pauses.append)
    opener.answers = [(403, s3_error('AccessDenied', 'Access Denied'))]
    result = failed(checks=[{'name': 'new token', 'source': 'values', 'access_key_id': KEY_ID,
                             'secret_access_key': new_secret(), 'endpoint_url': ENDPOINT}],
                    bucket='backups', retries=2)
    assert len(opener.requests) == 3 and pauses == [2, 2]
    assert result['checks'][0]['attempts'] == 3
    assert result['msg'] == ('1 of 1 checks failed: new token: access key %s: get_object on bucket backups at %s: '
                             'expected allowed, but R2 denied it (HTTP 403 AccessDenied: Access Denied) (after 3 '
                             'attempts)' % (KEY_ID, ENDPOINT))


def test_checks_no_answer_is_retried_bad_input_is_not(opener, monkeypatch, tmp_path):
    monkeypatch.setattr(r2_s3_check.time, 'sleep', lambda seconds: None)
    opener.answers = [ConnectionResetError(104, 'reset'), ConnectionResetError(104, 'reset'), (404, NO_SUCH_KEY)]
    result = failed(checks=[
        {'name': 'flaky', 'source': 'values', 'access_key_id': KEY_ID, 'secret_access_key': new_secret(),
         'endpoint_url': ENDPOINT},
        {'name': 'bad bucket', 'source': 'values', 'access_key_id': KEY_ID, 'secret_access_key': new_secret(),
         'endpoint_url': ENDPOINT, 'bucket': 'Bad_Bucket'},
    ], bucket='backups', retries=1)
    checks = by_name(result)
    assert (checks['flaky']['failed'], checks['flaky']['attempts'], len(opener.requests)) == (False, 2, 3)
    assert checks['bad bucket']['attempts'] == 0 and 'is not an R2 bucket name' in checks['bad bucket']['msg']
    assert result['msg'].startswith('1 of 2 checks failed: bad bucket: bucket ')


def test_checks_connection_error_message(opener):
    opener.answers = [urllib.error.URLError(ConnectionRefusedError(111, 'Connection refused'))]
    result = failed(checks=[{'name': 'x', 'source': 'values', 'access_key_id': KEY_ID,
                             'secret_access_key': new_secret(), 'endpoint_url': ENDPOINT, 'expect': 'any'}],
                    bucket='backups')
    entry = result['checks'][0]
    assert (entry['outcome'], entry['status'], entry['endpoint_url'], entry['access_key_id']) == \
        (None, None, ENDPOINT, KEY_ID)
    assert result['msg'] == ('1 of 1 checks failed: x: cannot reach %s (tried twice, timeout 10.0s): [Errno 111] '
                             'Connection refused' % ENDPOINT)


def test_checks_module_defaults_and_overrides(opener, files, monkeypatch):
    creds, config, keys = files
    monkeypatch.setenv('AWS_SHARED_CREDENTIALS_FILE', creds)
    monkeypatch.setenv('AWS_CONFIG_FILE', config)
    opener.answers = [(200, b'')]
    ok(checks=[
        {'name': 'defaults', 'profile': 'backup'},
        {'name': 'own', 'profile': 'default', 'bucket': 'other', 'operation': 'get_object', 'key': 'k/ey',
         'endpoint_url': 'http://127.0.0.1:9000/'},
        {'name': 'empty prefix', 'profile': 'backup', 'prefix': ''},
    ], bucket='backups', operation='list_objects', prefix='web1/', key='ignored')
    urls = [r['url'] for r in opener.requests]
    assert urls == [EU_ENDPOINT + '/backups?list-type=2&max-keys=1&prefix=web1%2F',
                    'http://127.0.0.1:9000/other/k/ey',
                    EU_ENDPOINT + '/backups?list-type=2&max-keys=1&prefix=']
    assert opener.requests[1]['headers']['authorization'] == botocore_authorization(
        opener.requests[1], keys['default'], access_key_id='DEFAULTKEY')


@pytest.mark.parametrize('check, message', [
    ({'source': 'aws'}, 'source=aws needs profile'),
    ({'profile': 'p', 'path': '/x'}, 'path not used with source=aws'),
    ({'source': 'rclone', 'path': '/x'}, 'source=rclone needs section'),
    ({'source': 'rclone', 'section': 's'}, 'source=rclone needs path'),
    ({'source': 's3cmd', 'path': '/x', 'section': 's', 'profile': 'p'}, 'profile, section not used with source=s3cmd'),
    ({'source': 'env_file'}, 'source=env_file needs path'),
    ({'source': 'values', 'access_key_id': KEY_ID, 'secret_access_key': SOME_SECRET},
     'source=values needs endpoint_url'),
    ({'source': 'values', 'endpoint_url': ENDPOINT}, 'source=values needs access_key_id and secret_access_key'),
    ({'source': 'values', 'access_key_id': KEY_ID, 'secret_access_key': SOME_SECRET, 'endpoint_url': ENDPOINT,
      'credentials_file': '/x'}, 'credentials_file not used with source=values'),
    ({'source': 'rclone', 'path': '/x', 'section': 's', 'access_key_id': KEY_ID},
     'access_key_id not used with source=rclone'),
    ({'profile': ' '}, 'profile may not be empty'),
    ({'source': 'values', 'access_key_id': KEY_ID, 'secret_access_key': SOME_SECRET, 'endpoint_url': ENDPOINT,
      'operation': 'list_objects', 'bucket': None}, 'bucket is required with operation=list_objects'),
    ({'source': 'values', 'access_key_id': KEY_ID, 'secret_access_key': SOME_SECRET, 'endpoint_url': ENDPOINT,
      'key': '', 'bucket': 'backups'}, 'key may not be empty'),
    ({'source': 'values', 'access_key_id': KEY_ID, 'secret_access_key': SOME_SECRET, 'endpoint_url': 'https://h/p',
      'bucket': 'backups'}, 'has a path or query'),
])
def test_checks_bad_options_fail_that_check(opener, check, message):
    result = failed(checks=[dict(check, name='bad')])
    assert result['msg'].startswith('1 of 1 checks failed: bad: ')
    assert message in result['msg'], result['msg']
    assert result['checks'][0]['attempts'] == 0 and not opener.requests


def test_checks_module_level_errors(opener):
    secret = new_secret()
    one = {'name': 'a', 'source': 'values', 'access_key_id': KEY_ID, 'secret_access_key': secret,
           'endpoint_url': ENDPOINT}
    for name in ('profile', 'access_key_id', 'endpoint_url', 'session_token'):
        result = failed(checks=[one], bucket='backups', **{name: 'value-of-' + name})
        assert 'mutually exclusive' in result['msg'] and 'checks' in result['msg']
    assert failed(checks=[one, dict(one), dict(one, name='b'), dict(one, name='b')], bucket='backups')['msg'] == \
        'checks: each name must be unique; used more than once: a, b'
    assert failed(checks=[dict(one, name='')], bucket='backups')['msg'] == \
        'checks[0]: name may not be empty or hold a control character'
    assert failed(checks=[], bucket='backups')['msg'] == 'checks may not be empty'
    assert 'name' in failed(checks=[{'source': 'values'}])['msg']
    assert 'source' in failed(checks=[dict(one, source='boto')])['msg']
    assert 'retries must be 0 or more' in failed(checks=[one], bucket='backups', retries=-1)['msg']
    assert 'delay must be 0 or more' in failed(checks=[one], bucket='backups', delay=-1)['msg']
    assert not opener.requests


def test_checks_secrets_of_files_are_masked(opener, clients):
    secrets_ = [c[1] for c in clients.values()] + [c[2] for c in clients.values() if c[2]]
    opener.answers = [(403, s3_error('AccessDenied', 'echo %s' % ' '.join(secrets_)))]
    result = failed(checks=[
        {'name': 'rclone', 'source': 'rclone', 'path': clients['rclone'][0], 'section': 'backup'},
        {'name': 's3cmd', 'source': 's3cmd', 'path': clients['s3cmd'][0]},
        {'name': 'env', 'source': 'env_file', 'path': clients['env_file'][0]},
    ], bucket='backups')
    assert_clean(result, *secrets_)
    assert '********' in result['checks'][0]['message'] and '********' in result['msg']


def test_checks_secret_in_values_is_no_log(opener):
    secret, token = new_secret(), new_session_token()
    result = ok(checks=[{'name': 'v', 'source': 'values', 'access_key_id': KEY_ID, 'secret_access_key': secret,
                         'session_token': token, 'endpoint_url': ENDPOINT}], bucket='backups')
    assert_clean(result, secret, token)
    assert opener.requests[0]['headers']['x-amz-security-token'] == token


@pytest.mark.parametrize('kind, text, message', [
    ('rclone', '[other]\naccess_key_id = X\n', 'no [backup] in {path}'),
    ('rclone', '[backup]\ntype = s3\nenv_auth = true\n', '[backup] of {path} has no value for access_key_id'),
    ('rclone', '[backup]\naccess_key_id = %s\n' % KEY_ID, '[backup] of {path} has no value for secret_access_key'),
    ('rclone', '[backup]\naccess_key_id = %s\nsecret_access_key = %s\n' % (KEY_ID, SOME_SECRET),
     'no endpoint: set endpoint_url, or endpoint in [backup] of {path} ('),
    ('s3cmd', '# nothing\n', 'no [default] in {path}'),
    ('s3cmd', '[default]\naccess_key = %s\nsecret_key = %s\n' % (KEY_ID, SOME_SECRET),
     'no endpoint: set endpoint_url, or host_base in [default] of {path} ('),
    ('env_file', 'AWS_SECRET_ACCESS_KEY=%s\n' % SOME_SECRET, '{path} has no value for AWS_ACCESS_KEY_ID'),
    ('env_file', 'AWS_ACCESS_KEY_ID=%s\nAWS_SECRET_ACCESS_KEY=%s\n' % (KEY_ID, SOME_SECRET),
     'no endpoint: set endpoint_url, or AWS_ENDPOINT_URL_S3 in {path} ('),
    ('env_file', 'AWS_ACCESS_KEY_ID=a/b\nAWS_SECRET_ACCESS_KEY=%s\nAWS_ENDPOINT_URL_S3=%s\n' % (SOME_SECRET, ENDPOINT),
     'the access key id in {path} may only have'),
], ids=lambda value: value if value in ('aws', 'rclone', 's3cmd', 'env_file') else '-')
def test_checks_incomplete_client_files(opener, tmp_path, kind, text, message):
    path = write(tmp_path / 'client', text)
    check = {'name': 'c', 'source': kind, 'path': path}
    if kind == 'rclone':
        check['section'] = 'backup'
    result = failed(checks=[check], bucket='backups')
    assert result['checks'][0]['msg'].startswith(message.format(path=path)), result['checks'][0]['msg']
    assert not opener.requests


def test_checks_client_file_endpoints(opener, tmp_path):
    """rclone's endpoint without a scheme is https; an env file may give AWS_ENDPOINT_URL; endpoint_url wins."""
    secret = new_secret()
    rclone = write(tmp_path / 'rclone.conf', '[r]\naccess_key_id = %s\nsecret_access_key = %s\nendpoint = '
                   'acc.r2.cloudflarestorage.com\n' % (KEY_ID, secret))
    env = write(tmp_path / 'x.env', 'export AWS_ACCESS_KEY_ID="%s"\nAWS_SECRET_ACCESS_KEY=\'%s\'\n'
                'AWS_ENDPOINT_URL=http://127.0.0.1:9\n' % (KEY_ID, secret))
    s3cfg = write(tmp_path / 's3cfg', '[default]\naccess_key = %s\nsecret_key = %s\nhost_base = 127.0.0.1:9002\n'
                  'use_https = False\n' % (KEY_ID, secret))
    result = ok(checks=[
        {'name': 'rclone', 'source': 'rclone', 'path': rclone, 'section': 'r'},
        {'name': 'env', 'source': 'env_file', 'path': env},
        {'name': 's3cmd', 'source': 's3cmd', 'path': s3cfg},
        {'name': 'override', 'source': 'env_file', 'path': env, 'endpoint_url': ENDPOINT},
    ], bucket='backups')
    assert [c['endpoint_url'] for c in result['checks']] == [
        'https://acc.r2.cloudflarestorage.com', 'http://127.0.0.1:9', 'http://127.0.0.1:9002', ENDPOINT]
    for sent in opener.requests:
        assert sent['headers']['authorization'] == botocore_authorization(sent, secret)


def test_checks_unsafe_and_unreadable_files(opener, tmp_path, clients):
    link = tmp_path / 'link.env'
    link.symlink_to(clients['env_file'][0])
    fifo = tmp_path / 'fifo.env'
    os.mkfifo(str(fifo))
    binary = tmp_path / 'binary.env'
    binary.write_bytes(b'AWS_ACCESS_KEY_ID=\xff\xfe\n')
    big = tmp_path / 'big.env'
    big.write_bytes(b'#' * (1024 * 1024 + 1))
    result = failed(checks=[
        {'name': 'link', 'source': 'env_file', 'path': str(link)},
        {'name': 'fifo', 'source': 'env_file', 'path': str(fifo)},
        {'name': 'dir', 'source': 'rclone', 'path': str(tmp_path), 'section': 'x'},
        {'name': 'binary', 'source': 'env_file', 'path': str(binary)},
        {'name': 'big', 'source': 'env_file', 'path': str(big)},
        {'name': 'aws link', 'profile': 'x', 'credentials_file': str(link), 'config_file': str(tmp_path / 'none')},
    ], bucket='backups')
    checks = by_name(result)
    for name, path in (('link', link), ('fifo', fifo), ('dir', tmp_path), ('big', big), ('aws link', link)):
        assert str(path) in checks[name]['msg'] and checks[name]['failed'], (name, checks[name]['msg'])
    assert 'link' in checks['link']['msg'] and 'FIFO' in checks['fifo']['msg']
    assert checks['binary']['msg'] == 'cannot read %s: not UTF-8 text' % binary
    assert result['msg'].startswith('6 of 6 checks failed: ')
    assert not opener.requests
    assert_clean(result, clients['env_file'][1])


def test_checks_relative_path(opener, clients, monkeypatch):
    folder, name = os.path.split(clients['env_file'][0])
    monkeypatch.chdir(folder)
    result = ok(checks=[{'name': 'rel', 'source': 'env_file', 'path': name}], bucket='backups')
    assert result['checks'][0]['endpoint_url'] == EU_ENDPOINT


def test_checks_in_check_mode(opener, clients):
    result = ok(check=True, checks=[{'name': 's3cmd', 'source': 's3cmd', 'path': clients['s3cmd'][0]}],
                bucket='backups')
    assert result['changed'] is False and result['checks'][0]['allowed'] is True and len(opener.requests) == 1


# --------------------------------------------------- retries, one check

def test_single_check_retries(opener, monkeypatch):
    pauses = []
    monkeypatch.setattr(r2_s3_check.time, 'sleep', pauses.append)
    opener.answers = [(403, s3_error('InvalidAccessKeyId')), (404, NO_SUCH_KEY)]
    result = ok(**direct(new_secret(), retries=2, delay=0.5))
    assert result['allowed'] is True and len(opener.requests) == 2 and pauses == [0.5]
    assert 'checks' not in result and 'attempts' not in result
    opener.answers = [(403, s3_error('InvalidAccessKeyId'))]
    result = failed(**direct(new_secret(), retries=1, delay=0))
    assert result['msg'].endswith('(HTTP 403 InvalidAccessKeyId: m) (after 2 attempts)')


def test_single_check_profile_not_found_names_missing_files(opener, tmp_path):
    config = write(tmp_path / 'config', '[profile other]\n')
    result = failed(profile='nope', credentials_file=str(tmp_path / 'none'), config_file=config, bucket='backups')
    assert result['msg'] == 'profile nope not found: no [nope] in %s (no such file) and no [profile nope] in %s' % (
        tmp_path / 'none', config)


def test_single_check_refuses_a_linked_credentials_file(opener, files, tmp_path):
    creds, config, keys = files
    link = tmp_path / 'linked'
    link.symlink_to(creds)
    result = failed(profile='backup', credentials_file=str(link), config_file=config, bucket='backups')
    assert str(link) in result['msg'] and not opener.requests
    assert_clean(result, *keys.values())
