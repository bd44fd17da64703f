# -*- coding: utf-8 -*-
# Copyright: (c) 2026, cloudflare_r2.credentials contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# FOR INTERNAL COLLECTION USE ONLY
# The interfaces in this file are meant for use within the cloudflare_r2.credentials
# collection and may not remain stable to outside uses. Changes may be made in ANY
# release, even a bugfix release.

"""One read-only S3 request to R2, signed with AWS Signature Version 4, and what R2's answer says about the
credentials that signed it.

``probe(creds, operation, bucket, key, prefix, timeout, validate_certs, result)`` does it all: it normalises the
endpoint, builds and signs the request (region ``auto``, service ``s3``, path-style URLs), sends it (no redirect
followed, one retry after a connection error), parses the S3 error and classifies the answer as ``allowed``,
``denied`` or ``error``. ``unmet_message`` words an outcome that is not the expected one.

Standard library only: this runs on the hosts (``r2_s3_check``). No message ever holds a secret.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import hashlib
import hmac
import http.client
import re
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request

from ansible.module_utils.common.text.converters import to_native, to_text

from ansible_collections.cloudflare_r2.credentials.plugins.module_utils import _text

REGION = 'auto'
SERVICE = 's3'
EMPTY_SHA256 = hashlib.sha256(b'').hexdigest()
MESSAGE_MAX = 300
BODY_MAX = 64 * 1024
RETRY_PAUSE = 1.0

OPERATIONS = ('get_object', 'list_objects', 'list_buckets')
EXPECTS = ('allowed', 'denied', 'any')
OUTCOMES = ('allowed', 'denied', 'error')

# Refusals of the credentials themselves (signature, key, token, permission).
DENIED_CODES = frozenset((
    'AccessDenied', 'AccountProblem', 'AllAccessDisabled', 'ExpiredToken', 'InvalidAccessKeyId',
    'InvalidSecurity', 'InvalidToken', 'SignatureDoesNotMatch', 'TokenRefreshRequired', 'Unauthorized'))
# 403s that say nothing about the credentials.
NOT_DENIED_CODES = frozenset(('RequestTimeTooSkewed',))

BUCKET_RE = re.compile(r'[a-z0-9][a-z0-9-]{1,61}[a-z0-9]')   # whole strings only (fullmatch)
ACCESS_KEY_RE = re.compile(r'[A-Za-z0-9._~+=-]+')
XML_CODE_RE = re.compile(r'<Code>([^<]*)</Code>')
XML_MESSAGE_RE = re.compile(r'<Message>([^<]*)</Message>')


class ProbeError(Exception):
    """A message for the user (never holds a secret).

    ``retryable`` is true when the endpoint could not be reached at all (a later attempt may get through).
    """

    def __init__(self, message, retryable=False):
        super(ProbeError, self).__init__(message)
        self.retryable = retryable


# ----------------------------------------------------------------- signing

def normalize_endpoint(url):
    """(endpoint, host header) of ``scheme://host[:port]``; a trailing slash is dropped."""
    text = (url or '').strip()
    parts = urllib.parse.urlsplit(text.rstrip('/'))
    try:
        port = parts.port
    except ValueError:
        port = -1
    if '@' in parts.netloc:
        # not echoed: the user part may hold a password
        raise ProbeError('endpoint_url may not contain a user or password; give only scheme://host[:port]')
    if parts.scheme.lower() not in ('http', 'https') or not parts.hostname or port == -1:
        raise ProbeError('endpoint_url %s is not an http(s)://host[:port] URL' % text)
    if parts.path or parts.query or parts.fragment or '?' in text or '#' in text:
        raise ProbeError('endpoint_url %s has a path or query; give only scheme://host[:port] (the bucket goes '
                         'into the path)' % text)
    scheme = parts.scheme.lower()
    host = parts.hostname
    if ':' in host:
        host = '[%s]' % host
    if port is not None and port != {'http': 80, 'https': 443}[scheme]:
        host = '%s:%d' % (host, port)
    return '%s://%s' % (scheme, parts.netloc), host


def uri_encode(text):
    """S3 URI encoding of one path segment or query component: everything but A-Z a-z 0-9 - _ . ~."""
    return urllib.parse.quote(text, safe='-_.~')


def request_target(operation, bucket, key, prefix):
    """(method, canonical URI, canonical query string) of the check; the URL uses them as they are."""
    if operation == 'list_buckets':
        return 'GET', '/', ''
    if operation == 'list_objects':
        params = [('list-type', '2'), ('max-keys', '1')]
        if prefix is not None:
            params.append(('prefix', prefix))
        query = '&'.join('%s=%s' % pair for pair in sorted((uri_encode(k), uri_encode(v)) for k, v in params))
        return 'GET', '/' + uri_encode(bucket), query
    # each key segment is encoded once; '/' stays the separator, so 'a//b' keeps its empty segment
    path = '/%s/%s' % (uri_encode(bucket), '/'.join(uri_encode(segment) for segment in key.split('/')))
    return 'GET', path, ''


def signing_key(secret, datestamp, region=None):
    key = ('AWS4' + secret).encode('utf-8')
    for part in (datestamp, region or REGION, SERVICE, 'aws4_request'):
        key = hmac.new(key, part.encode('utf-8'), hashlib.sha256).digest()
    return key


def sign(method, path, query, headers, access_key_id, secret, amz_date, region=None):
    """The Authorization header of SigV4 over every header in ``headers`` (names lower-case)."""
    region = region or REGION
    names = sorted(headers)
    canonical_headers = ''.join('%s:%s\n' % (name, ' '.join(headers[name].split())) for name in names)
    signed_headers = ';'.join(names)
    canonical_request = '\n'.join((method, path, query, canonical_headers, signed_headers,
                                   headers['x-amz-content-sha256']))
    scope = '%s/%s/%s/aws4_request' % (amz_date[:8], region, SERVICE)
    string_to_sign = '\n'.join(('AWS4-HMAC-SHA256', amz_date, scope,
                                hashlib.sha256(canonical_request.encode('utf-8')).hexdigest()))
    signature = hmac.new(signing_key(secret, amz_date[:8], region), string_to_sign.encode('utf-8'),
                         hashlib.sha256).hexdigest()
    return 'AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s' % (
        access_key_id, scope, signed_headers, signature)


def _utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def build_request(creds, operation, bucket, key, prefix, now=None):
    """(url, headers) of the signed request; ``creds`` has access_key_id, secret_access_key, session_token and
    endpoint_url."""
    endpoint, host = normalize_endpoint(creds['endpoint_url'])
    method, path, query = request_target(operation, bucket, key, prefix)
    amz_date = (now or _utcnow()).strftime('%Y%m%dT%H%M%SZ')
    headers = {'host': host, 'x-amz-content-sha256': EMPTY_SHA256, 'x-amz-date': amz_date}
    if operation == 'get_object':
        headers['range'] = 'bytes=0-0'  # never download a large object
    if creds.get('session_token'):
        headers['x-amz-security-token'] = creds['session_token']
    headers['authorization'] = sign(method, path, query, headers, creds['access_key_id'],
                                    creds['secret_access_key'], amz_date)
    return endpoint + path + ('?' + query if query else ''), headers


# -------------------------------------------------------------------- HTTP

class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is reported, not followed: following would resend the signed headers elsewhere."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def _opener(validate_certs, ca_bundle=None):
    if validate_certs:
        context = ssl.create_default_context(cafile=ca_bundle)
    else:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return urllib.request.build_opener(_NoRedirect, urllib.request.HTTPSHandler(context=context))


def _read(response):
    try:
        return response.read(BODY_MAX) or b''
    finally:
        response.close()


def send(url, headers, timeout, validate_certs, ca_bundle=None):
    """(status, body) of the request; one retry after a connection error. Raises ProbeError."""
    if not url.startswith('https:'):
        ca_bundle = None  # not needed, so a stale one must not break a plain-HTTP check
    try:
        opener = _opener(validate_certs, ca_bundle)
    except (IOError, OSError, ssl.SSLError) as exc:
        raise ProbeError('cannot load the CA bundle %s: %s' % (ca_bundle, to_native(exc)))
    where = '/'.join(url.split('/', 3)[:3])
    problem = None
    for attempt in (1, 2):
        request = urllib.request.Request(url, headers=headers, method='GET')
        try:
            response = opener.open(request, timeout=timeout)
            return response.getcode(), _read(response)
        except urllib.error.HTTPError as exc:
            return exc.code, _read(exc)
        except urllib.error.URLError as exc:
            reason = exc.reason
            if isinstance(reason, ssl.SSLCertVerificationError) or 'CERTIFICATE_VERIFY_FAILED' in str(reason):
                raise ProbeError('the TLS certificate of %s is not trusted (%s); give the CA bundle through '
                                 'AWS_CA_BUNDLE or the profile\'s ca_bundle, or set validate_certs=false'
                                 % (where, to_native(getattr(reason, 'verify_message', None) or reason)))
            problem = to_native(reason)
        except (OSError, http.client.HTTPException) as exc:  # timeouts, resets, TLS and HTTP framing errors
            problem = '%s: %s' % (type(exc).__name__, to_native(exc)) if str(exc) else type(exc).__name__
        if attempt == 1:
            time.sleep(RETRY_PAUSE)
    raise ProbeError('cannot reach %s (tried twice, timeout %ss): %s' % (where, timeout, problem), retryable=True)


# ----------------------------------------------------------------- outcome

def parse_error(body):
    """(code, message) of an S3 XML error body, (None, None) if it is not one."""
    text = to_text(body, errors='replace')
    code = XML_CODE_RE.search(text)
    message = XML_MESSAGE_RE.search(text)
    message = (message.group(1).strip() or None) if message else None
    if message and len(message) > MESSAGE_MAX:
        message = message[:MESSAGE_MAX - 3] + '...'
    return (code.group(1).strip() or None) if code else None, message


def classify(operation, status, code):
    """allowed, denied or error."""
    if status in (200, 206) and code is None:
        return 'allowed'
    if operation == 'get_object' and (status, code) in ((404, 'NoSuchKey'), (416, 'InvalidRange')):
        return 'allowed'  # R2 looks for the key only after the signature and the permission passed
    if code in NOT_DENIED_CODES:
        return 'error'
    if code in DENIED_CODES or status in (401, 403):
        return 'denied'
    return 'error'


def is_met(expect, outcome):
    return expect == 'any' or expect == outcome


# ---------------------------------------------------------------- checking

def validate_target(operation, bucket, key, timeout=None):
    """Refuse a request that cannot be sent (ProbeError)."""
    if operation not in OPERATIONS:
        raise ProbeError('operation must be one of %s' % ', '.join(OPERATIONS))
    if operation != 'list_buckets':
        if not bucket:
            raise ProbeError('bucket is required with operation=%s' % operation)
        if not BUCKET_RE.fullmatch(bucket):
            raise ProbeError('bucket %r is not an R2 bucket name (3 to 63 lower-case letters, digits and "-", '
                             'starting and ending with a letter or digit)' % bucket)
    if operation == 'get_object' and not key:
        raise ProbeError('key may not be empty')
    if timeout is not None and timeout <= 0:
        raise ProbeError('timeout must be above 0')


def validate_credentials(creds, endpoint_hint=''):
    """Refuse credentials that cannot sign a request (ProbeError naming ``creds['where']``, never a value).

    ``endpoint_hint`` says where else an endpoint could come from (``, or ...``) when there is none.
    """
    where = ' in ' + creds['where'] if creds.get('where') else ''
    if not creds.get('access_key_id'):
        raise ProbeError('no access key id%s' % where)
    if not ACCESS_KEY_RE.fullmatch(creds['access_key_id']):
        # no value in the message: a secret pasted into the wrong field must not show
        raise ProbeError('the access key id%s may only have letters, digits and . _ ~ + = -' % where)
    if not creds.get('secret_access_key'):
        raise ProbeError('no secret access key%s' % where)
    for name in ('secret_access_key', 'session_token'):
        if creds.get(name) and _text.has_control(creds[name]):
            raise ProbeError('the %s%s contains a control character or line break' % (name, where))
    if not creds.get('endpoint_url'):
        raise ProbeError('no endpoint: set endpoint_url%s (the aws CLI would send these credentials to AWS)'
                         % endpoint_hint)
    normalize_endpoint(creds['endpoint_url'])


def probe(creds, operation, bucket, key, prefix, timeout, validate_certs, result):
    """Send the signed request and fill ``result``: endpoint_url and access_key_id first (so they are there
    when no answer comes), then allowed, outcome, status, code and message. Returns the outcome.

    ``creds``: access_key_id, secret_access_key, session_token, endpoint_url and optionally ca_bundle. Raises
    ProbeError when the request cannot be sent or gets no answer.
    """
    result['access_key_id'] = creds['access_key_id']
    result['endpoint_url'] = normalize_endpoint(creds['endpoint_url'])[0]
    url, headers = build_request(creds, operation, bucket, key, prefix)
    status, body = send(url, headers, timeout, validate_certs, creds.get('ca_bundle'))
    code, message = parse_error(body) if status >= 300 else (None, None)
    outcome = classify(operation, status, code)
    result.update(allowed=outcome == 'allowed', outcome=outcome, status=status, code=code, message=message)
    return outcome


def describe_target(operation, bucket):
    return 'list_buckets' if operation == 'list_buckets' else '%s on bucket %s' % (operation, bucket)


def unmet_message(who, operation, bucket, expect, result):
    """The message of an answer (``result`` filled by ``probe``) whose outcome is not ``expect``."""
    got = {'allowed': 'R2 allowed it', 'denied': 'R2 denied it',
           'error': 'R2 answered with an error'}[result['outcome']]
    code, message = result.get('code'), result.get('message')
    detail = 'HTTP %d%s%s' % (result['status'], ' ' + code if code else '', ': ' + message if message else '')
    hint = ' (check the clock of this host)' if code == 'RequestTimeTooSkewed' else ''
    return '%s: %s at %s: expected %s, but %s (%s)%s' % (who, describe_target(operation, bucket),
                                                         result['endpoint_url'], expect, got, detail, hint)
