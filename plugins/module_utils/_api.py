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

import math
import random
import re
import time
from collections import deque

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
COLLECTION_VERSION = '0.5.0'  # galaxy.yml's version (tests check that they agree)
USER_AGENT = 'ansible-cloudflare_r2.credentials/%s' % COLLECTION_VERSION

# Statuses after which the request provably did not change anything (429) or
# is safe to send again because the method is idempotent (5xx gateway errors).
RETRY_STATUSES = frozenset((408, 429, 502, 503, 504))
IDEMPOTENT_METHODS = frozenset(('GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS'))

# Cloudflare's client API limit (REF section 6): 1200 requests per 300 s per API token; past it every call of the
# token is refused with HTTP 429 for five minutes.
RATE_LIMIT = 1200
RATE_WINDOW = 300.0
# The part of rate_limit the pacer leaves unused: room for other clients of the token, whose use shows in the
# Ratelimit header, and for the moment before the first answer of a run tells what is left.
RATE_HEADROOM = 0.1
RATE_LOCKOUT = 300.0  # the longest HTTP 429 wait honoured (Cloudflare's lockout)
LOG_WAITS_OVER = 1.0  # seconds; shorter pacing waits are counted, not logged

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
    """HTTP 429 (or a budget another client spent) that could not be waited out: retries spent, a wait past the
    deadline or longer than Cloudflare's lockout. ``retry_after`` is the seconds to wait from when it was raised,
    ``retry_at`` the same moment as UTC text; the message gives both."""

    def __init__(self, message, status=None, errors=None, method=None, path=None, request_id=None,
                 retry_after=None, retry_at=None):
        super(CloudflareRateLimited, self).__init__(message, status, errors, method, path, request_id)
        self.retry_after = retry_after
        self.retry_at = retry_at


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


def parse_ratelimit(headers):
    """``(remaining, seconds to reset)`` from Cloudflare's ``Ratelimit`` header (``"default";r=50;t=30``, REF
    section 6); of several policies the one with the fewest left; None without a usable header."""
    value = headers.get('ratelimit') if headers else None
    best = None
    for item in (value or '').split(','):
        remaining = re.search(r';\s*r=(\d+)', item)
        reset = re.search(r';\s*t=(\d+)', item)
        if remaining and reset and (best is None or int(remaining.group(1)) < best[0]):
            best = (int(remaining.group(1)), float(reset.group(1)))
    return best


def check_rate_options(rate_limit, rate_window, deadline, rate_headroom=RATE_HEADROOM):
    """Raise CloudflareInputError, naming the option, unless the pacing options are usable."""
    def number(value):
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not (isinstance(rate_limit, int) and not isinstance(rate_limit, bool)) or rate_limit < 0:
        raise CloudflareInputError('rate_limit must be a whole number of requests per rate_window, 0 to turn pacing '
                                   'off (Cloudflare allows 1200 per 300 seconds), got %s' % _text.shown(rate_limit))
    if not number(rate_window) or rate_window <= 0:
        raise CloudflareInputError('rate_window must be a positive number of seconds (Cloudflare counts per 300), '
                                   'got %s' % _text.shown(rate_window))
    if deadline is not None and (not number(deadline) or deadline < 0):
        raise CloudflareInputError('deadline must be 0 or more seconds (how long a run may wait out the rate limit), '
                                   'got %s' % _text.shown(deadline))
    if not number(rate_headroom) or not 0 <= rate_headroom < 1:
        raise CloudflareInputError('rate_headroom must be a fraction from 0 to below 1, got %s'
                                   % _text.shown(rate_headroom))


def rate_budget(rate_limit, rate_headroom=RATE_HEADROOM):
    """Requests the pacer sends per window: ``rate_limit`` less the reserve, ``ceil(rate_limit * rate_headroom)``
    (1200 -> 1080, 60 -> 54), at least 1; 0 when pacing is off."""
    if not rate_limit:
        return 0
    return max(1, rate_limit - int(math.ceil(round(rate_limit * rate_headroom, 6))))


def utc_after(seconds, with_date=False):
    """The wall-clock moment ``seconds`` from now, as UTC text."""
    return time.strftime('%Y-%m-%d %H:%M:%S UTC' if with_date else '%H:%M:%S UTC',
                         time.gmtime(math.ceil(time.time() + seconds)))


class CloudflareClient:
    """Bearer-token client for the Cloudflare v4 API.

    ``log`` receives one line per retry or notable event; it never gets
    headers or bodies. ``warn`` (default ``log``) receives the lines a user
    should see: each wait for an HTTP 429. ``stats`` counts requests by
    "METHOD path" for benchmarks and the API budget checks.

    The request pacer: Cloudflare refuses every call of a token for five
    minutes once it passes ``rate_limit`` requests in ``rate_window`` seconds.
    Before each attempt (reads too) the client waits until the last
    ``rate_budget`` requests (``rate_limit`` less ``rate_headroom``) no longer
    all fall within the window. Each request counts from when its answer
    arrived, which is after Cloudflare counted it, so no window at the server
    holds more than the budget. The ``Ratelimit`` header shows what other
    clients of the token spend: below the reserve the client waits for its
    reset. An HTTP 429 that still comes is waited out (``retry-after``, at
    most the five-minute lockout) while ``deadline`` (seconds from the
    client's creation, measured with ``clock``; None for no limit) allows;
    then ``CloudflareRateLimited`` says when to try again. ``rate_limit=0``
    turns the pacer off (a 429 is still waited out). ``pacing`` counts the
    waits: ``waits`` and ``waited_seconds`` for the pacer's own spacing and
    the Ratelimit header, ``rate_limited`` and ``rate_limited_seconds`` for
    HTTP 429 answers.
    """

    def __init__(self, api_token, api_url=None, timeout=30, validate_certs=True, retries=5,
                 retry_max_delay=60, retry_base_delay=1.0, log=None, sleep=None, session=None,
                 rate_limit=RATE_LIMIT, rate_window=RATE_WINDOW, rate_headroom=RATE_HEADROOM, deadline=None,
                 clock=None, warn=None):
        check_api_token(api_token)
        check_rate_options(rate_limit, rate_window, deadline, rate_headroom)
        if not HAS_REQUESTS and session is None:
            raise CloudflareError('the Python library "requests" is required')
        self.api_url = (api_url or DEFAULT_API_URL).rstrip('/')
        self.timeout = timeout
        self.retries = max(0, int(retries))
        self.retry_max_delay = retry_max_delay
        self.retry_base_delay = retry_base_delay
        self.log = log or (lambda msg: None)
        self.warn = warn
        self.sleep = sleep or time.sleep
        self.clock = clock or time.monotonic
        self.rate_limit = rate_limit
        self.rate_window = float(rate_window)
        self.rate_budget = rate_budget(rate_limit, rate_headroom)
        self.rate_reserve = rate_limit - self.rate_budget if rate_limit else 0
        self.deadline = deadline
        self.started = self.clock()
        self.pacing = {'waits': 0, 'waited_seconds': 0.0, 'rate_limited': 0, 'rate_limited_seconds': 0.0}
        # when the answers of the last rate_budget requests arrived (clock), oldest first
        self._answered = deque(maxlen=self.rate_budget or 1)
        self._held = None  # (until, remaining, reset) when the Ratelimit header showed the reserve reached
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

    # -- request pacer ---------------------------------------------------

    def _past_deadline(self, wait):
        """Why a wait of ``wait`` seconds from now may not be waited (it would end past the deadline), else None."""
        if self.deadline is None:
            return None
        elapsed = self.clock() - self.started
        if elapsed + wait <= self.deadline:
            return None
        if not self.deadline:
            return 'the option deadline is 0 (never wait for a rate limit)'
        return ('waiting would end past the deadline of this run (option deadline, %gs after its start; %ds have '
                'passed)' % (self.deadline, elapsed))

    def _pace(self, method, path):
        """Wait, before sending an attempt, for the budget of the window and for a reset the Ratelimit header asked
        for."""
        if not self.rate_limit:
            return
        now = self.clock()
        wait = 0.0
        if len(self._answered) >= self.rate_budget:
            wait = self._answered[0] + self.rate_window - now
        held, self._held = self._held, None
        if held is not None and held[0] - now > wait:
            wait = held[0] - now
            remaining, reset = held[1], held[2]
            problem = self._past_deadline(wait)
            if problem:
                retry_at = utc_after(wait, True)
                raise CloudflareRateLimited(
                    'Cloudflare reports %d requests left for this API token until its rate limit resets in %ds, '
                    'less than the reserve of %d this run keeps: another client is using the token. Try again '
                    'after %s (in %ds); %s.' % (remaining, reset, self.rate_reserve, retry_at, math.ceil(wait), problem),
                    method=method, path=path, retry_after=wait, retry_at=retry_at)
            if wait > LOG_WAITS_OVER:
                self.log('cloudflare: %d requests left for this API token (Ratelimit header), less than the reserve '
                         'of %d: another client is using it; waiting %.1fs for the reset before %s %s'
                         % (remaining, self.rate_reserve, wait, method, path))
        elif wait > LOG_WAITS_OVER:
            self.log('cloudflare: pacing: the last %d requests fall within %gs (rate_limit %d less the reserve); '
                     'waiting %.1fs before %s %s' % (self.rate_budget, self.rate_window, self.rate_limit, wait,
                                                     method, path))
        if wait > 0:
            self.pacing['waits'] += 1
            self.pacing['waited_seconds'] += wait
            self.sleep(wait)

    def _answer(self, response=None):
        """Count an attempt from when its answer (or failure) arrived; note the Ratelimit header of an answer."""
        if not self.rate_limit:
            return
        now = self.clock()
        self._answered.append(now)
        if response is None or response.status_code == 429:
            return
        parsed = parse_ratelimit(response.headers)
        if parsed and parsed[0] < self.rate_reserve and parsed[1] > 0:
            reset = min(parsed[1], self.rate_window)
            self._held = (now + reset, parsed[0], reset)

    def _rate_limited(self, method, path, response, attempt):
        """Wait out an HTTP 429 or raise CloudflareRateLimited saying when to try again."""
        self.pacing['rate_limited'] += 1
        retry_after = parse_retry_after(response.headers)
        delay = max(1.0, retry_after) if retry_after is not None else self._backoff(attempt)
        problem = None
        if attempt >= self.retries:
            problem = 'the run stopped after %d retries (option retries)' % self.retries
        elif delay > max(RATE_LOCKOUT, self.rate_window):
            problem = 'Cloudflare asks for a wait longer than its lockout of %ds' % max(RATE_LOCKOUT, self.rate_window)
        else:
            problem = self._past_deadline(delay)
        if problem:
            # no retry-after: the lockout is up to five minutes
            wait = delay if retry_after is not None else RATE_LOCKOUT
            retry_at = utc_after(wait, True)
            errors = self._errors_of(response)
            raise CloudflareRateLimited(
                'Cloudflare rate limit hit on %s %s (HTTP 429: %s). Cloudflare refuses every call of this API token '
                'for up to five minutes once it passes its limit (1200 requests per 5 minutes). Try again after %s '
                '(in %ds); %s.' % (method, path, format_errors(errors) or 'no error detail', retry_at,
                                   math.ceil(wait), problem),
                429, errors, method, path, response.headers.get('cf-ray'), retry_after=wait, retry_at=retry_at)
        (self.warn or self.log)('cloudflare: rate limited on %s %s (HTTP 429); waiting %ds (until %s) before retry '
                                '%d/%d' % (method, path, math.ceil(delay), utc_after(delay), attempt + 1, self.retries))
        self.pacing['rate_limited_seconds'] += delay
        self.sleep(delay)

    def request(self, method, path, params=None, body=None, headers=None):
        """Send one call, retrying what is safe to retry; return the parsed envelope."""
        method = method.upper()
        url = self.api_url + path
        idempotent = method in IDEMPOTENT_METHODS
        attempt = 0
        while True:
            self._pace(method, path)
            self._count(method, path)
            kwargs = {'params': params, 'timeout': self.timeout}
            if body is not None:
                kwargs['json'] = body
            if headers:
                kwargs['headers'] = headers
            try:
                response = self.session.request(method, url, **kwargs)
            except Exception as exc:  # requests raises many types; classify below
                self._answer()
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

            self._answer(response)
            status = response.status_code
            if status == 429:
                # Refused before processing, so even a POST may be resent.
                self._rate_limited(method, path, response, attempt)
                attempt += 1
                continue
            if status in RETRY_STATUSES:
                retry_after = parse_retry_after(response.headers)
                if not idempotent:
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

    def _errors_of(self, response):
        """The envelope's errors, redacted; [] for a body that is not an envelope."""
        try:
            envelope = response.json()
        except ValueError:
            envelope = None
        if not isinstance(envelope, dict):
            return []
        errors = envelope.get('errors') or []
        return _text.redact(errors if isinstance(errors, list) else [errors], self._secret_forms)

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
