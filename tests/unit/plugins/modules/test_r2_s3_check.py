# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""r2_s3_check: SigV4 signing (checked against botocore), aws CLI profile reading, outcomes and expectations."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import email.message
import http.server
import io
import json
import secrets
import ssl
import threading
import urllib.error
import urllib.parse

import pytest

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
    monkeypatch.setattr(r2_s3_check, '_utcnow', lambda: NOW)
    monkeypatch.setattr(r2_s3_check, 'RETRY_PAUSE', 0)
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
    monkeypatch.setattr(r2_s3_check, '_opener', build)
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
               'x-amz-content-sha256': r2_s3_check.EMPTY_SHA256, 'x-amz-date': '20130524T000000Z'}
    original = r2_s3_check.REGION
    r2_s3_check.REGION = 'us-east-1'
    try:
        auth = r2_s3_check.sign('GET', '/test.txt', '', headers, 'AKIAIOSFODNN7EXAMPLE',
                                'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', '20130524T000000Z')
    finally:
        r2_s3_check.REGION = original
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
    unverified = r2_s3_check._opener(False)  # pylint: disable=protected-access
    https = [h for h in unverified.handlers if isinstance(h, r2_s3_check.urllib.request.HTTPSHandler)][0]
    context = https._context  # pylint: disable=protected-access
    assert context.verify_mode == ssl.CERT_NONE and not context.check_hostname
    verified = r2_s3_check._opener(True)  # pylint: disable=protected-access
    https = [h for h in verified.handlers if isinstance(h, r2_s3_check.urllib.request.HTTPSHandler)][0]
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
    assert r2_s3_check.classify(operation, status, code) == outcome


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
