# -*- coding: utf-8 -*-
# Copyright: (c) 2026, cloudflare_r2.credentials contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# FOR INTERNAL COLLECTION USE ONLY
# The interfaces in this file are meant for use within the cloudflare_r2.credentials
# collection and may not remain stable to outside uses. Changes may be made in ANY
# release, even a bugfix release. See also:
# https://github.com/ansible/community/issues/539#issuecomment-780839686
# Please open an issue if you have questions about this.

"""Cloudflare v4 API client.

Kept free of AnsibleModule so that modules, lookups and benchmarks share it:
it takes plain options and raises typed exceptions that callers translate.
The Cloudflare envelope (success, errors, messages, result, result_info) is
parsed in exactly one place, ``CloudflareClient._parse``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import random
import re
import time

from ansible_collections.cloudflare_r2.credentials.plugins.module_utils import _text

try:
    from importlib.util import find_spec
    HAS_REQUESTS = find_spec('requests') is not None
except (ImportError, ValueError):  # pragma: no cover
    HAS_REQUESTS = False
REQUESTS_IMPORT_ERROR = None if HAS_REQUESTS else ImportError('No module named requests')


class _Requests(object):
    """``requests``, imported when first used: the pure model (_r2, _provision) imports this module, and the
    provision role's actions run it once per host on the controller, where importing requests would cost more
    than the rest of the task."""

    def __getattr__(self, name):
        import requests as module  # pylint: disable=import-outside-toplevel
        globals()['requests'] = module
        return getattr(module, name)


requests = _Requests()

DEFAULT_API_URL = 'https://api.cloudflare.com/client/v4'
COLLECTION_VERSION = '0.4.0'  # galaxy.yml's version (tests check that they agree)
USER_AGENT = 'ansible-cloudflare_r2.credentials/%s' % COLLECTION_VERSION

# Statuses after which the request provably did not change anything (429) or
# is safe to send again because the method is idempotent (5xx gateway errors).
RETRY_STATUSES = frozenset((408, 429, 502, 503, 504))
IDEMPOTENT_METHODS = frozenset(('GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS'))

# Which permission group each call needs, from the schema's x-api-token-group
# fields (see tests/unit/plugins/module_utils/test_api.py, which checks this
# table against Cloudflare's OpenAPI extract). Used to turn a 403 into a
# message that names what the token is missing.
_PERMISSION_TABLE = (
    (re.compile(r'/user/tokens/verify'), None, None),
    (re.compile(r'/accounts/[^/]+/tokens/verify'), None, None),
    (re.compile(r'/user/tokens(/.*)?'), ('API Tokens Read', 'API Tokens Write'), ('API Tokens Write',)),
    (re.compile(r'/accounts/[^/]+/tokens(/.*)?'),
     ('Account API Tokens Read', 'Account API Tokens Write'), ('Account API Tokens Write',)),
    # The schema names no group for minting temporary credentials: the caller is the parent token.
    (re.compile(r'/accounts/[^/]+/r2/temp-access-credentials'), None, None),
    (re.compile(r'/accounts/[^/]+/r2/buckets'),
     ('Workers R2 Storage Read', 'Workers R2 Storage Write'), ('Workers R2 Storage Write',)),
)


def required_permission_groups(method, path):
    """Return the permission groups of which a call needs one, or None."""
    for pattern, read_groups, write_groups in _PERMISSION_TABLE:
        if pattern.fullmatch(path):
            return read_groups if method.upper() == 'GET' else write_groups
    return None


class CloudflareError(Exception):
    """Base class. Messages never contain token values, secrets or request bodies."""


class CloudflareInputError(CloudflareError):
    """A connection option is unusable; raised before any request."""


# What a Cloudflare API token value is made of (cfut_/cfat_ plus URL-safe base64, or 40 characters of the same
# alphabet for older tokens). Checked whole, so a newline from a YAML block or a vault file never reaches the
# Authorization header, where requests would quote the value in its exception.
API_TOKEN_RE = re.compile(r'[A-Za-z0-9._~+/=-]+')


def check_api_token(value, field='api_token'):
    """Raise CloudflareInputError, naming ``field`` and never the value, unless ``value`` is a usable token."""
    if not isinstance(value, str) or not value:
        if field == 'api_token':
            raise CloudflareInputError('api_token is required: set the api_token option or the CLOUDFLARE_API_TOKEN '
                                       'environment variable')
        raise CloudflareInputError('%s: a token value is required (a non-empty string)' % field)
    if value != value.strip():
        raise CloudflareInputError('%s: the token value has leading or trailing whitespace (a YAML block scalar or a '
                                   'file read without stripping adds a newline); give the value alone. The value is '
                                   'not shown.' % field)
    if _text.has_control(value) or not API_TOKEN_RE.fullmatch(value):
        raise CloudflareInputError('%s: the token value holds a character no Cloudflare API token has (control '
                                   'characters, spaces or non-ASCII text); give the value alone. The value is not '
                                   'shown.' % field)
    return value


class CloudflareTransportError(CloudflareError):
    """No usable HTTP response (connection error, timeout, garbled body)."""


class CloudflareUncertainWrite(CloudflareTransportError):
    """A non-idempotent request may or may not have been applied.

    Raised instead of retrying, so that the caller can look first (for a
    token create: re-list by name) and never make a second token.
    """


class CloudflareApiError(CloudflareError):
    def __init__(self, message, status=None, errors=None, method=None, path=None, request_id=None):
        super(CloudflareApiError, self).__init__(message)
        self.status = status
        self.errors = errors or []
        self.method = method
        self.path = path
        self.request_id = request_id


class CloudflareAuthError(CloudflareApiError):
    """HTTP 401: the API token itself is not accepted."""


class CloudflarePermissionError(CloudflareApiError):
    """HTTP 403: the API token is valid but lacks a permission."""


class CloudflareNotFound(CloudflareApiError):
    """HTTP 404."""


class CloudflareRateLimited(CloudflareApiError):
    """HTTP 429 that outlasted the retry budget."""


def format_errors(errors):
    """Render Cloudflare's errors (and their error_chain) as one line."""
    parts = []
    for err in errors or []:
        if not isinstance(err, dict):
            parts.append(str(err))
            continue
        text = '%s %s' % (err.get('code', '?'), err.get('message', '')) if err.get('code') else str(err.get('message', ''))
        pointer = (err.get('source') or {}).get('pointer') if isinstance(err.get('source'), dict) else None
        if pointer:
            text += ' (at %s)' % pointer
        chain = err.get('error_chain')
        if chain:
            text += ' [%s]' % format_errors(chain)
        parts.append(text.strip())
    return '; '.join(parts)


def parse_retry_after(headers, default=None):
    """Seconds to wait from ``retry-after`` or the RFC 9651 ``Ratelimit`` header."""
    value = headers.get('retry-after') if headers else None
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            pass  # an HTTP date; fall back to Ratelimit
    ratelimit = headers.get('ratelimit') if headers else None
    if ratelimit:
        match = re.search(r'(?:^|;)\s*t=(\d+)', ratelimit)
        if match:
            return float(match.group(1))
    return default


class CloudflareClient:
    """Bearer-token client for the Cloudflare v4 API.

    ``log`` receives one line per retry or notable event; it never gets
    headers or bodies. ``stats`` counts requests by "METHOD path" for
    benchmarks and the API budget checks.
    """

    def __init__(self, api_token, api_url=None, timeout=30, validate_certs=True, retries=5,
                 retry_max_delay=60, retry_base_delay=1.0, log=None, sleep=None, session=None):
        check_api_token(api_token)
        if not HAS_REQUESTS and session is None:
            raise CloudflareError('the Python library "requests" is required')
        self.api_url = (api_url or DEFAULT_API_URL).rstrip('/')
        self.timeout = timeout
        self.retries = max(0, int(retries))
        self.retry_max_delay = retry_max_delay
        self.retry_base_delay = retry_base_delay
        self.log = log or (lambda msg: None)
        self.sleep = sleep or time.sleep
        self.stats = {}
        if session is None:
            session = requests.Session()
            # Proxies, REQUESTS_CA_BUNDLE etc. come from the environment (trust_env).
            session.trust_env = True
        # what an error answer must never echo back into a message (a proxy or the API quoting the header)
        self._secret_forms = _text.escaped_forms(api_token)
        session.verify = bool(validate_certs)
        session.headers.update({
            'Authorization': 'Bearer %s' % api_token,
            'User-Agent': USER_AGENT,
            'Accept': 'application/json',
        })
        self.session = session

    # -- low level -------------------------------------------------------

    def _backoff(self, attempt):
        # Full jitter on an exponential base, bounded by retry_max_delay.
        cap = min(self.retry_max_delay, self.retry_base_delay * (2 ** attempt))
        return random.uniform(cap / 2.0, cap)

    def _count(self, method, path):
        key = '%s %s' % (method, path)
        self.stats[key] = self.stats.get(key, 0) + 1

    def request(self, method, path, params=None, body=None, headers=None):
        """Send one call, retrying what is safe to retry; return the parsed envelope."""
        method = method.upper()
        url = self.api_url + path
        idempotent = method in IDEMPOTENT_METHODS
        attempt = 0
        while True:
            self._count(method, path)
            kwargs = {'params': params, 'timeout': self.timeout}
            if body is not None:
                kwargs['json'] = body
            if headers:
                kwargs['headers'] = headers
            try:
                response = self.session.request(method, url, **kwargs)
            except Exception as exc:  # requests raises many types; classify below
                safe = idempotent or _not_sent(exc)
                reason = _describe_transport_error(exc)
                if not safe:
                    raise CloudflareUncertainWrite('%s %s: %s; the request may have been applied' % (method, path, reason))
                if attempt >= self.retries:
                    raise CloudflareTransportError('%s %s failed after %d attempt(s): %s' % (method, path, attempt + 1, reason))
                delay = self._backoff(attempt)
                self.log('cloudflare: %s %s: %s; retrying in %.1fs (%d/%d)' % (method, path, reason, delay, attempt + 1, self.retries))
                self.sleep(delay)
                attempt += 1
                continue

            status = response.status_code
            if status in RETRY_STATUSES:
                # A 429 was refused before processing, so even a POST may be resent.
                safe = idempotent or status == 429
                retry_after = parse_retry_after(response.headers)
                if not safe:
                    raise CloudflareUncertainWrite('%s %s: HTTP %d; the request may have been applied' % (method, path, status))
                if attempt < self.retries and (retry_after is None or retry_after <= self.retry_max_delay):
                    delay = max(1.0, retry_after) if retry_after is not None else self._backoff(attempt)
                    self.log('cloudflare: %s %s: HTTP %d; retrying in %.1fs (%d/%d)' % (method, path, status, delay, attempt + 1, self.retries))
                    self.sleep(delay)
                    attempt += 1
                    continue
            try:
                return self._parse(method, path, response)
            except CloudflareTransportError:
                # A garbled body: a GET can simply be asked again, a write cannot.
                if not idempotent:
                    raise CloudflareUncertainWrite('%s %s: unreadable response (HTTP %d); the request may have been applied'
                                                   % (method, path, status))
                if attempt >= self.retries:
                    raise
                self.sleep(self._backoff(attempt))
                attempt += 1

    def _parse(self, method, path, response):
        status = response.status_code
        request_id = response.headers.get('cf-ray')
        try:
            envelope = response.json()
        except ValueError:
            envelope = None
        if not isinstance(envelope, dict) or 'success' not in envelope:
            # The body is not echoed: it could hold a token value.
            raise CloudflareTransportError('%s %s: HTTP %d with a body that is not a Cloudflare API envelope'
                                           % (method, path, status))
        if status < 400 and envelope.get('success') is True:
            return envelope
        errors = _text.redact(envelope.get('errors') or [], self._secret_forms)
        detail = format_errors(errors) or 'no error detail'
        where = '%s %s' % (method, path)
        if status == 401:
            raise CloudflareAuthError(
                'Cloudflare rejected the API token (HTTP 401 on %s: %s). It is invalid, expired, disabled, not yet valid '
                'or was rolled; check api_token / CLOUDFLARE_API_TOKEN.' % (where, detail),
                status, errors, method, path, request_id)
        if status == 403:
            groups = required_permission_groups(method, path)
            need = (' It needs the permission %s.' % ' or '.join('"%s"' % g for g in groups)) if groups else ''
            raise CloudflarePermissionError(
                'The API token is not allowed to call %s (HTTP 403: %s).%s' % (where, detail, need),
                status, errors, method, path, request_id)
        if status == 404:
            raise CloudflareNotFound('%s: not found (HTTP 404: %s)' % (where, detail), status, errors, method, path, request_id)
        if status == 429:
            wait = parse_retry_after(response.headers)
            raise CloudflareRateLimited(
                'Cloudflare rate limit hit on %s (HTTP 429: %s). Cloudflare blocks every call of this token for up to '
                'five minutes%s; the limit is 1200 requests per 5 minutes per token.'
                % (where, detail, ' (retry after %ds)' % wait if wait is not None else ''),
                status, errors, method, path, request_id)
        raise CloudflareApiError('Cloudflare API error on %s (HTTP %d: %s)' % (where, status, detail),
                                 status, errors, method, path, request_id)

    # -- convenience -----------------------------------------------------

    def call(self, method, path, params=None, body=None, headers=None):
        """Return ``result`` of one call."""
        return self.request(method, path, params=params, body=body, headers=headers).get('result')

    def paginate(self, path, params=None, per_page=50, max_pages=10000):
        """Yield every item of a page/per_page-paginated list."""
        query = dict(params or {})
        query['per_page'] = per_page
        page = 1
        while page <= max_pages:
            query['page'] = page
            envelope = self.request('GET', path, params=query)
            items = envelope.get('result') or []
            yield from items
            info = envelope.get('result_info') or {}
            total_pages = info.get('total_pages')
            if total_pages is None and info.get('total_count') is not None and info.get('per_page'):
                total_pages = -(-int(info['total_count']) // int(info['per_page']))
            if total_pages is not None:
                if page >= int(total_pages):
                    return
            elif len(items) < per_page:
                return
            if not items:
                return
            page += 1

    def paginate_cursor(self, path, key, params=None, headers=None, per_page=1000, max_pages=10000):
        """Yield ``result[key]`` items of a cursor-paginated list (the R2 bucket list)."""
        query = dict(params or {})
        query['per_page'] = per_page
        for dummy in range(max_pages):
            envelope = self.request('GET', path, params=query, headers=headers)
            result = envelope.get('result') or {}
            # The 2024 schema modelled result as a bare list; accept both shapes.
            items = result.get(key) if isinstance(result, dict) else result
            yield from items or []
            cursor = (envelope.get('result_info') or {}).get('cursor')
            if not cursor or not items:
                return
            query['cursor'] = cursor


def _not_sent(exc):
    """True when the request provably never reached the server."""
    if requests is None:
        return False
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    if isinstance(exc, requests.exceptions.ConnectionError):
        text = repr(exc)
        # urllib3 wraps a refused or unresolvable connect in NewConnectionError;
        # anything later (reset, remote disconnect) may follow a received request.
        return 'NewConnectionError' in text or 'NameResolutionError' in text
    return False


def _describe_transport_error(exc):
    """What went wrong, by exception type only: the text of a transport exception can quote the request's headers
    (requests' InvalidHeader quotes the Authorization value) or a URL with credentials in it."""
    if requests is not None:
        if isinstance(exc, requests.exceptions.Timeout):
            return 'timed out (%s)' % type(exc).__name__
        if isinstance(exc, requests.exceptions.SSLError):
            return 'TLS error (%s); set validate_certs only if you trust the endpoint' % type(exc).__name__
        if isinstance(exc, requests.exceptions.ConnectionError):
            return 'connection error (%s)' % _cause(exc)
    return 'request failed (%s)' % type(exc).__name__


def _cause(exc):
    """The exception's type and, for a wrapped urllib3 error, the type of the reason (ProtocolError,
    NewConnectionError...), which says whether the request can have reached the server."""
    names = [type(exc).__name__]
    reason = exc.args[0] if exc.args else None
    for dummy in range(3):
        if reason is None or isinstance(reason, str):
            break
        names.append(type(reason).__name__)
        reason = getattr(reason, 'reason', None) or (reason.args[0] if getattr(reason, 'args', None) else None)
    return ': '.join(names)
