#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, cloudflare_r2.credentials contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: r2_s3_check
short_description: Prove from a host that R2 S3 credentials work, with one signed S3 request
version_added: 0.1.0
description:
  - Sends one read-only S3 request, signed with AWS Signature Version 4, to an R2 S3 endpoint from the host the
    module runs on, and reports whether R2 allowed it or denied it.
  - The credentials come from an aws CLI profile (O(profile)), read from C(~/.aws/credentials) and
    C(~/.aws/config) the way the aws CLI and boto3 read them, or are given directly (O(access_key_id),
    O(secret_access_key), O(session_token), O(endpoint_url)).
  - Meant for credential rotation, to check newly written client files on each host before the old credentials
    are revoked, and to check afterwards that the old ones are refused (O(expect=denied)).
  - Uses only the Python standard library on the host. It does not call the Cloudflare API and is not part of the
    C(cloudflare_r2.credentials.r2) action group.
  - Never returns or logs a secret; secrets read from the files are masked in the module's output too.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: The request only reads, so the module runs the same way in check mode and reports the real outcome.
  diff_mode:
    support: none
  platform:
    platforms: posix
options:
  profile:
    description:
      - Name of an aws CLI profile to take the credentials and the endpoint from.
      - The keys C(aws_access_key_id), C(aws_secret_access_key) and C(aws_session_token) (or the older
        C(aws_security_token)) come from the section C([NAME]) of O(credentials_file); if that section has no
        C(aws_access_key_id), from C([profile NAME]) of O(config_file), as the aws CLI does.
      - The endpoint is C(endpoint_url) of the C(s3) block of the profile's C(services) section, else
        C(endpoint_url) of C([profile NAME]) in O(config_file) (C([default]) or C([profile default]) for V(default)).
        O(endpoint_url) wins over both.
      - Only static keys are checked. A profile that gets its credentials from C(credential_process),
        C(role_arn), SSO or a web identity fails with a message saying so.
      - Environment variables such as E(AWS_ACCESS_KEY_ID) or E(AWS_ENDPOINT_URL_S3) are not read, so the
        result is about the files.
      - Exactly one of O(profile) and O(access_key_id) is required.
    type: str
  credentials_file:
    description:
      - The aws credentials file read for O(profile). Not used without O(profile).
      - If not set, E(AWS_SHARED_CREDENTIALS_FILE) in the environment of the module, else C(~/.aws/credentials)
        in the home of the remote (or C(become)) user.
      - A missing file is read as empty, as the aws CLI does.
    type: path
    default: ~/.aws/credentials
  config_file:
    description:
      - The aws config file read for O(profile). Not used without O(profile).
      - If not set, E(AWS_CONFIG_FILE) in the environment of the module, else C(~/.aws/config) in the home of the
        remote (or C(become)) user.
      - A missing file is read as empty.
    type: path
    default: ~/.aws/config
  access_key_id:
    description:
      - S3 Access Key ID to check (for R2, the API token id), instead of O(profile).
    type: str
  secret_access_key:
    description:
      - S3 Secret Access Key that goes with O(access_key_id). Required with it.
    type: str
  session_token:
    description:
      - Session token of temporary credentials, sent as C(x-amz-security-token).
    type: str
  endpoint_url:
    description:
      - The S3 endpoint, C(https://ACCOUNT_ID.r2.cloudflarestorage.com) or the endpoint of the bucket's
        jurisdiction (C(https://ACCOUNT_ID.eu.r2.cloudflarestorage.com) for EU buckets).
      - Only C(scheme://host[:port]); a trailing C(/) is dropped, a path is refused.
      - Required with O(access_key_id). With O(profile) it overrides the profile's endpoint; one of them must
        give one, because the module never falls back to AWS.
    type: str
  bucket:
    description:
      - The bucket to read from. Required unless O(operation=list_buckets).
    type: str
  operation:
    description:
      - V(get_object) reads the first byte of O(key) (C(Range bytes=0-0)). A missing key (C(404 NoSuchKey)) counts
        as allowed, since R2 answers it only after the signature and the permission passed. Needs Object Read.
      - V(list_objects) lists at most one key (C(ListObjectsV2), C(max-keys=1)), optionally under O(prefix).
        Needs Object Read. Credentials limited to prefixes need an O(prefix) inside them.
      - V(list_buckets) lists the account's buckets. Only Admin permissions may; object-level credentials are
        denied.
    type: str
    choices: [get_object, list_objects, list_buckets]
    default: get_object
  key:
    description:
      - Object key read by O(operation=get_object). It does not have to exist.
    type: str
    default: r2-credentials-check
  prefix:
    description:
      - Key prefix for O(operation=list_objects).
    type: str
  expect:
    description:
      - The outcome the task requires. The module fails when the outcome is another one.
      - V(allowed) (the default) needs RV(outcome=allowed).
      - V(denied) needs RV(outcome=denied), for example old credentials after a rotation (C(SignatureDoesNotMatch))
        or a deleted token (C(InvalidAccessKeyId)). Other errors, such as C(NoSuchBucket), do not count.
      - V(any) only reports (see RV(allowed), RV(outcome) and RV(code)).
    type: str
    choices: [allowed, denied, any]
    default: allowed
  validate_certs:
    description:
      - Whether to validate the TLS certificate of the endpoint.
      - With O(profile), the CA bundle is the one the aws CLI would use (E(AWS_CA_BUNDLE), then C(ca_bundle) of
        the profile), else the system's.
    type: bool
    default: true
  timeout:
    description:
      - Seconds to wait for the connection and the response.
    type: float
    default: 10
notes:
  - The request is signed for region C(auto) and service C(s3) and uses path-style URLs
    (C(https://host/bucket/key)), as R2 expects. Proxies come from E(HTTPS_PROXY) and E(NO_PROXY); redirects are
    not followed.
  - Denied means HTTP 401 or 403, or an authentication error code (C(AccessDenied), C(SignatureDoesNotMatch),
    C(InvalidAccessKeyId), C(ExpiredToken), C(InvalidToken) and a few more). C(RequestTimeTooSkewed) is an error
    rather than a denial, because it points at the host's clock, not at the credentials.
  - A connection error (after one retry) or an invalid or incomplete profile fails the task whatever O(expect) is.
  - R2 checks the signature before the permission, so a wrong secret gives C(SignatureDoesNotMatch) even on a
    bucket the token may not read.
seealso:
  - module: cloudflare_r2.credentials.r2_profile
  - module: cloudflare_r2.credentials.r2_token
  - name: R2 S3 API authentication
    description: Endpoints, region C(auto) and the credentials R2 accepts.
    link: https://developers.cloudflare.com/r2/api/s3/tokens/
  - name: aws CLI configuration files
    description: How the aws CLI reads C(config) and C(credentials).
    link: https://docs.aws.amazon.com/cli/latest/userguide/cli-configure-files.html
author:
  - Cloudflare R2 credentials maintainers (@cloudflare-r2)
'''

EXAMPLES = r'''
# Rotation: check the new credentials where they are used, then revoke the old ones.
- name: Roll the backup token (same access key id, new secret)
  cloudflare_r2.credentials.r2_token:
    name: backup-web1
    permission: object_read_write
    buckets: [backups]
    rotate: true
  delegate_to: localhost
  run_once: true
  register: backup_token
  no_log: true

- name: Write the new secret into the backup user's aws files
  cloudflare_r2.credentials.r2_profile:
    path: /home/backup/.aws/credentials
    section: backup
    values:
      aws_access_key_id: "{{ backup_token.access_key_id }}"
      aws_secret_access_key: "{{ backup_token.secret_access_key }}"
    owner: backup
    group: backup

- name: The new credentials work from this host, read as the aws CLI reads them
  cloudflare_r2.credentials.r2_s3_check:
    profile: backup
    bucket: backups
  become: true
  become_user: backup

# Before deleting a token that the new one replaces.
- name: The new profile can list the bucket
  cloudflare_r2.credentials.r2_s3_check:
    profile: backup-v2
    credentials_file: /home/backup/.aws/credentials
    config_file: /home/backup/.aws/config
    bucket: backups
    operation: list_objects
    prefix: web1/

- name: Delete the old token
  cloudflare_r2.credentials.r2_token:
    name: backup-web1-old
    state: absent
  delegate_to: localhost
  run_once: true

- name: The old credentials are refused now
  cloudflare_r2.credentials.r2_s3_check:
    profile: backup-old
    bucket: backups
    expect: denied
  become: true
  become_user: backup

- name: Direct values, temporary credentials, EU endpoint; just report
  cloudflare_r2.credentials.r2_s3_check:
    access_key_id: "{{ temp.access_key_id }}"
    secret_access_key: "{{ temp.secret_access_key }}"
    session_token: "{{ temp.session_token }}"
    endpoint_url: "{{ cloudflare_account_id | cloudflare_r2.credentials.r2_endpoint('eu') }}"
    bucket: reports
    expect: any
  register: probe

- name: Show the outcome
  ansible.builtin.debug:
    msg: "{{ probe.outcome }} ({{ probe.status }} {{ probe.code }})"
'''

RETURN = r'''
allowed:
  description: Whether R2 allowed the request (RV(outcome=allowed)).
  returned: success or a failed expectation
  type: bool
  sample: true
outcome:
  description:
    - V(allowed) (200 or 206, or for O(operation=get_object) C(404 NoSuchKey) or C(416 InvalidRange)),
      V(denied) (an authentication or permission refusal) or V(error) (anything else, such as C(NoSuchBucket)).
  returned: success or a failed expectation
  type: str
  sample: allowed
status:
  description: HTTP status of R2's answer.
  returned: success or a failed expectation
  type: int
  sample: 404
code:
  description: The S3 error code of the answer, or V(null) for a success.
  returned: success or a failed expectation
  type: str
  sample: NoSuchKey
message:
  description: The S3 error message (at most 300 characters), or V(null).
  returned: success or a failed expectation
  type: str
  sample: The specified key does not exist.
endpoint_url:
  description: The endpoint the request went to (C(scheme://host[:port])).
  returned: when known
  type: str
  sample: https://0123456789abcdef0123456789abcdef.r2.cloudflarestorage.com
access_key_id:
  description: The Access Key ID that signed the request. Not a secret.
  returned: when known
  type: str
  sample: ed17574386854bf78a67040be0a770b0
'''

import configparser
import datetime
import hashlib
import hmac
import http.client
import os
import re
import shlex
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request

from ansible.module_utils.basic import AnsibleModule, env_fallback
from ansible.module_utils.common.text.converters import to_native, to_text

REGION = 'auto'
SERVICE = 's3'
EMPTY_SHA256 = hashlib.sha256(b'').hexdigest()
MESSAGE_MAX = 300
BODY_MAX = 64 * 1024
RETRY_PAUSE = 1.0

# Refusals of the credentials themselves (signature, key, token, permission).
DENIED_CODES = frozenset((
    'AccessDenied', 'AccountProblem', 'AllAccessDisabled', 'ExpiredToken', 'InvalidAccessKeyId',
    'InvalidSecurity', 'InvalidToken', 'SignatureDoesNotMatch', 'TokenRefreshRequired', 'Unauthorized'))
# 403s that say nothing about the credentials.
NOT_DENIED_CODES = frozenset(('RequestTimeTooSkewed',))
# Profile settings of credential sources this module does not run.
OTHER_SOURCES = ('credential_process', 'role_arn', 'sso_session', 'sso_start_url', 'web_identity_token_file')

BUCKET_RE = re.compile(r'^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$')
ACCESS_KEY_RE = re.compile(r'^[A-Za-z0-9._~+=-]+$')
CONTROL_RE = re.compile(r'[\x00-\x1f\x7f]')
XML_CODE_RE = re.compile(r'<Code>([^<]*)</Code>')
XML_MESSAGE_RE = re.compile(r'<Message>([^<]*)</Message>')


class CheckError(Exception):
    """A message for the user (never holds a secret)."""


# ------------------------------------------------------------- aws CLI files

def _parse_nested(value):
    """An aws nested block (``s3 =`` then indented ``key = value`` lines) as botocore reads it."""
    parsed = {}
    for line in value.splitlines():
        line = line.strip()
        if line:
            name, sep, item = line.partition('=')
            if not sep:
                raise ValueError
            parsed[name.strip()] = item.strip()
    return parsed


def read_ini(path):
    """{section: {key: value}} of an aws INI file, read like botocore's raw_config_parse; {} if no file."""
    if not os.path.isfile(path):
        return {}
    parser = configparser.RawConfigParser()
    try:
        with open(path, encoding='utf-8') as handle:
            parser.read_file(handle, source=path)
    except configparser.MissingSectionHeaderError as exc:
        # the messages of configparser quote the line, which may hold a secret: build our own
        raise CheckError('cannot parse %s: line %d comes before any [section] header' % (path, exc.lineno))
    except configparser.ParsingError as exc:
        lines = ', '.join(str(error[0]) for error in exc.errors)
        raise CheckError('cannot parse %s: line(s) %s are neither a [section], a key = value line nor a comment'
                         % (path, lines))
    except configparser.DuplicateSectionError as exc:
        raise CheckError('cannot parse %s: section [%s] appears twice (line %s); the aws CLI refuses such files'
                         % (path, exc.section, exc.lineno))
    except configparser.DuplicateOptionError as exc:
        raise CheckError('cannot parse %s: key %s appears twice in [%s] (line %s)'
                         % (path, exc.option, exc.section, exc.lineno))
    except configparser.Error as exc:
        raise CheckError('cannot parse %s: %s' % (path, type(exc).__name__))
    except UnicodeDecodeError:
        raise CheckError('cannot read %s: not UTF-8 text' % path)
    except (IOError, OSError) as exc:
        raise CheckError('cannot read %s: %s' % (path, to_native(exc.strerror or exc)))
    sections = {}
    for section in parser.sections():
        values = {}
        for option in parser.options(section):
            value = parser.get(section, option)
            if value.startswith('\n'):
                try:
                    value = _parse_nested(value)
                except ValueError:
                    raise CheckError('cannot parse %s: the nested block %s in [%s] has a line without "="'
                                     % (path, option, section))
            values[option] = value
        sections[section] = values
    return sections


def profile_map(sections):
    """({profile: (section, values)}, {services name: values}) as botocore's build_profile_map sees them."""
    profiles, services = {}, {}
    for section, values in sections.items():
        if section == 'default':
            profiles['default'] = (section, values)
            continue
        if section.startswith('profile'):
            target = profiles
        elif section.startswith('services'):
            target = services
        else:
            continue
        try:
            parts = shlex.split(section)
        except ValueError:
            continue
        if len(parts) == 2:
            target[parts[1]] = (section, values) if target is profiles else values
    return profiles, services


def _text(values, name):
    value = values.get(name)
    return value.strip() if isinstance(value, str) and value.strip() else None


def read_profile(profile, credentials_file, config_file):
    """Credentials and endpoint of an aws CLI profile: {access_key_id, secret_access_key, session_token,
    endpoint_url, ca_bundle}."""
    credentials = read_ini(credentials_file)
    profiles, services = profile_map(read_ini(config_file))
    config_section, config = profiles.get(profile, ('default' if profile == 'default' else 'profile %s' % profile,
                                                    None))

    if 'aws_access_key_id' in credentials.get(profile, {}):
        where, values = '[%s] of %s' % (profile, credentials_file), credentials[profile]
    elif config is not None and 'aws_access_key_id' in config:
        where, values = '[%s] of %s' % (config_section, config_file), config
    else:
        if profile not in credentials and config is None:
            raise CheckError('profile %s not found: no [%s] in %s%s and no [%s] in %s%s' % (
                profile, profile, credentials_file, '' if os.path.exists(credentials_file) else ' (no such file)',
                config_section, config_file, '' if os.path.exists(config_file) else ' (no such file)'))
        others = [name for name in OTHER_SOURCES if config and name in config]
        hint = (' (it uses %s, which this module does not run: it checks static keys only)' % ', '.join(others)
                if others else '')
        raise CheckError('profile %s has no aws_access_key_id: neither in [%s] of %s nor in [%s] of %s%s'
                         % (profile, profile, credentials_file, config_section, config_file, hint))

    access_key_id = _text(values, 'aws_access_key_id')
    secret = _text(values, 'aws_secret_access_key')
    for name, value in (('aws_access_key_id', access_key_id), ('aws_secret_access_key', secret)):
        if value is None:
            raise CheckError('profile %s: %s has no value for %s' % (profile, where, name))
    # botocore looks at the older name first
    token = _text(values, 'aws_security_token') or _text(values, 'aws_session_token')

    config = config or {}
    endpoint = _text(config, 'endpoint_url')
    if config.get('services'):
        name = to_text(config['services']).strip()
        if name not in services:
            raise CheckError('profile %s: [%s] of %s names services %s, but there is no [services %s] in it'
                             % (profile, config_section, config_file, name, name))
        s3_block = services[name].get('s3')
        if isinstance(s3_block, dict) and _text(s3_block, 'endpoint_url'):
            endpoint = _text(s3_block, 'endpoint_url')
    ca_bundle = os.environ.get('AWS_CA_BUNDLE') or _text(config, 'ca_bundle')
    return {'access_key_id': access_key_id, 'secret_access_key': secret, 'session_token': token,
            'endpoint_url': endpoint, 'ca_bundle': ca_bundle, 'where': where}


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
        raise CheckError('endpoint_url may not contain a user or password; give only scheme://host[:port]')
    if parts.scheme.lower() not in ('http', 'https') or not parts.hostname or port == -1:
        raise CheckError('endpoint_url %s is not an http(s)://host[:port] URL' % text)
    if parts.path or parts.query or parts.fragment or '?' in text or '#' in text:
        raise CheckError('endpoint_url %s has a path or query; give only scheme://host[:port] (the bucket goes '
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


def signing_key(secret, datestamp):
    key = ('AWS4' + secret).encode('utf-8')
    for part in (datestamp, REGION, SERVICE, 'aws4_request'):
        key = hmac.new(key, part.encode('utf-8'), hashlib.sha256).digest()
    return key


def sign(method, path, query, headers, access_key_id, secret, amz_date):
    """The Authorization header of SigV4 over every header in ``headers`` (names lower-case)."""
    names = sorted(headers)
    canonical_headers = ''.join('%s:%s\n' % (name, ' '.join(headers[name].split())) for name in names)
    signed_headers = ';'.join(names)
    canonical_request = '\n'.join((method, path, query, canonical_headers, signed_headers,
                                   headers['x-amz-content-sha256']))
    scope = '%s/%s/%s/aws4_request' % (amz_date[:8], REGION, SERVICE)
    string_to_sign = '\n'.join(('AWS4-HMAC-SHA256', amz_date, scope,
                                hashlib.sha256(canonical_request.encode('utf-8')).hexdigest()))
    signature = hmac.new(signing_key(secret, amz_date[:8]), string_to_sign.encode('utf-8'),
                         hashlib.sha256).hexdigest()
    return 'AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s' % (
        access_key_id, scope, signed_headers, signature)


def _utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def build_request(creds, operation, bucket, key, prefix, now=None):
    """(url, headers) of the signed request."""
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
    """(status, body) of the request; one retry after a connection error. Raises CheckError."""
    if not url.startswith('https:'):
        ca_bundle = None  # not needed, so a stale one must not break a plain-HTTP check
    try:
        opener = _opener(validate_certs, ca_bundle)
    except (IOError, OSError, ssl.SSLError) as exc:
        raise CheckError('cannot load the CA bundle %s: %s' % (ca_bundle, to_native(exc)))
    endpoint = url.split('/', 3)[:3]
    where = '/'.join(endpoint)
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
                raise CheckError('the TLS certificate of %s is not trusted (%s); give the CA bundle through '
                                 'AWS_CA_BUNDLE or the profile\'s ca_bundle, or set validate_certs=false'
                                 % (where, to_native(getattr(reason, 'verify_message', None) or reason)))
            problem = to_native(reason)
        except (OSError, http.client.HTTPException) as exc:  # timeouts, resets, TLS and HTTP framing errors
            problem = '%s: %s' % (type(exc).__name__, to_native(exc)) if str(exc) else type(exc).__name__
        if attempt == 1:
            time.sleep(RETRY_PAUSE)
    raise CheckError('cannot reach %s (tried twice, timeout %ss): %s' % (where, timeout, problem))


# ----------------------------------------------------------------- outcome

def parse_error(body):
    """(code, message) of an S3 XML error body, (None, None) if it is not one."""
    text = to_text(body, errors='replace')
    code = XML_CODE_RE.search(text)
    message = XML_MESSAGE_RE.search(text)
    message = message.group(1).strip() if message else None
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


# -------------------------------------------------------------------- main

def validate(params, creds):
    operation = params['operation']
    if operation != 'list_buckets':
        bucket = params['bucket']
        if not bucket:  # required_if lets an explicit null through
            raise CheckError('bucket is required with operation=%s' % operation)
        if not BUCKET_RE.match(bucket):
            raise CheckError('bucket %r is not an R2 bucket name (3 to 63 lower-case letters, digits and "-", '
                             'starting and ending with a letter or digit)' % bucket)
    if operation == 'get_object' and not params['key']:
        raise CheckError('key may not be empty')
    where = ' in ' + creds['where'] if creds.get('where') else ''
    if not ACCESS_KEY_RE.match(creds['access_key_id']):
        # no value in the message: a secret pasted into the wrong field must not show
        raise CheckError('the access key id%s may only have letters, digits and . _ ~ + = -' % where)
    for name in ('secret_access_key', 'session_token'):
        if creds.get(name) and CONTROL_RE.search(creds[name]):
            raise CheckError('the %s%s contains a control character or line break' % (name, where))
    if not creds.get('endpoint_url'):
        raise CheckError('no endpoint: set endpoint_url%s (the aws CLI would send these credentials to AWS)'
                         % (', or endpoint_url in the profile\'s config section' if where else ''))
    if params['timeout'] <= 0:
        raise CheckError('timeout must be above 0')


def check(module, result):
    """Send the request and fill ``result``; return the message of an unmet expectation, or None.

    Raises CheckError for bad input, an unusable profile or no answer.
    """
    params = module.params
    if params['profile'] is not None:
        profile = params['profile']
        if not profile.strip():
            raise CheckError('profile may not be empty')
        creds = read_profile(profile, params['credentials_file'], params['config_file'])
        # read from files, so AnsibleModule does not know them: mask them in everything returned
        module.no_log_values.update(v for v in (creds['secret_access_key'], creds['session_token']) if v)
        who = 'profile %s (access key %s)' % (profile, creds['access_key_id'])
    else:
        creds = dict(access_key_id=params['access_key_id'], secret_access_key=params['secret_access_key'],
                     session_token=params['session_token'] or None, endpoint_url=None, ca_bundle=None)
        who = 'access key %s' % params['access_key_id']
    if params['endpoint_url']:
        creds['endpoint_url'] = params['endpoint_url']
    validate(params, creds)
    result['access_key_id'] = creds['access_key_id']
    result['endpoint_url'] = normalize_endpoint(creds['endpoint_url'])[0]
    url, headers = build_request(creds, params['operation'], params['bucket'], params['key'], params['prefix'])
    status, body = send(url, headers, params['timeout'], params['validate_certs'], creds.get('ca_bundle'))

    code, message = parse_error(body) if status >= 300 else (None, None)
    outcome = classify(params['operation'], status, code)
    result.update(allowed=outcome == 'allowed', outcome=outcome, status=status, code=code, message=message)
    expect = params['expect']
    if expect in ('any', outcome):
        return None
    target = 'list_buckets' if params['operation'] == 'list_buckets' else '%s on bucket %s' % (
        params['operation'], params['bucket'])
    got = {'allowed': 'R2 allowed it', 'denied': 'R2 denied it', 'error': 'R2 answered with an error'}[outcome]
    detail = 'HTTP %d%s%s' % (status, ' ' + code if code else '', ': ' + message if message else '')
    hint = ' (check the clock of this host)' if code == 'RequestTimeTooSkewed' else ''
    return '%s: %s at %s: expected %s, but %s (%s)%s' % (who, target, result['endpoint_url'], expect, got, detail,
                                                         hint)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            profile=dict(type='str'),
            credentials_file=dict(type='path', default='~/.aws/credentials',
                                  fallback=(env_fallback, ['AWS_SHARED_CREDENTIALS_FILE'])),
            config_file=dict(type='path', default='~/.aws/config', fallback=(env_fallback, ['AWS_CONFIG_FILE'])),
            access_key_id=dict(type='str', no_log=False),
            secret_access_key=dict(type='str', no_log=True),
            session_token=dict(type='str', no_log=True),
            endpoint_url=dict(type='str'),
            bucket=dict(type='str'),
            operation=dict(type='str', default='get_object', choices=['get_object', 'list_objects', 'list_buckets']),
            key=dict(type='str', default='r2-credentials-check', no_log=False),
            prefix=dict(type='str'),
            expect=dict(type='str', default='allowed', choices=['allowed', 'denied', 'any']),
            validate_certs=dict(type='bool', default=True),
            timeout=dict(type='float', default=10),
        ),
        mutually_exclusive=[('profile', 'access_key_id'), ('profile', 'secret_access_key'),
                            ('profile', 'session_token')],
        required_one_of=[('profile', 'access_key_id')],
        required_together=[('access_key_id', 'secret_access_key')],
        required_if=[('operation', 'get_object', ['bucket']), ('operation', 'list_objects', ['bucket'])],
        supports_check_mode=True,
    )
    result = dict(changed=False)
    try:
        failure = check(module, result)
    except CheckError as exc:
        failure = to_native(exc)
    if failure:
        module.fail_json(msg=failure, **result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
