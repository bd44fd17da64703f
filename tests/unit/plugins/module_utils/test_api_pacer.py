# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""CloudflareClient's request pacer (issue 11, build 3): the window budget, the Ratelimit header, HTTP 429 waits
within the deadline, and the connection options that set them.

Time is a fake clock: ``sleep`` advances it, and each request takes ``latency`` seconds on it. The fake server
counts a request halfway through (as Cloudflare counts it before its answer arrives) and, like Cloudflare and the
emulator, refuses every call for ``block`` seconds once a fixed window holds more than ``limit``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import calendar
import functools
import re
import time

import pytest
import requests

from ansible_collections.cloudflare_r2.credentials.plugins.module_utils import _api, _module
from ansible_collections.cloudflare_r2.credentials.plugins.module_utils._api import (
    CloudflareClient,
    CloudflareInputError,
    CloudflareRateLimited,
)
from ansible_collections.cloudflare_r2.credentials.plugins.modules import r2_token_info
from ansible_collections.cloudflare_r2.credentials.tests.unit.utils import secret_forms
from ansible_collections.cloudflare_r2.credentials.tests.unit.utils.ansible_module import run_module
from ansible_collections.cloudflare_r2.credentials.tests.unit.utils.fake_cloudflare import (
    FakeCloudflare,
    ScriptedSession,
    envelope,
    modules_use,
)

TOKEN = 'cfat_' + 'Vp3Rk8Wq2Zm6Xn1Bt5Hy9Lc4Jd7Gs0Fa' + 'Ue2Oi6Kw'
ACCOUNT = '0123456789abcdef0123456789abcdef'
PATH = '/accounts/%s/tokens' % ACCOUNT
UTC_TIME = r'\d\d:\d\d:\d\d UTC'
UTC_DATE_TIME = r'\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC'


class Clock:
    def __init__(self):
        self.now = 1000.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.now += seconds


class Server:
    """A session whose server counts requests per fixed window (limit per window, then blocked for block seconds,
    like tests/emulator's _rate) and answers with the Ratelimit header; ``extra`` counts another client's requests."""

    def __init__(self, clock, limit=60, window=20.0, block=20.0, latency=0.05, header=True):
        self.clock, self.limit, self.window, self.block, self.latency = clock, limit, window, block, latency
        self.header = header
        self.seen = []       # server time of every request
        self.statuses = []
        self.start, self.count, self.until = None, 0, 0.0
        self.headers, self.verify, self.trust_env = {}, True, True

    def request(self, method, url, params=None, json=None, timeout=None, headers=None):
        self.clock.now += self.latency / 2
        now = self.clock.now
        self.seen.append(now)
        response = self._answer(now)
        self.statuses.append(response.status_code)
        self.clock.now += self.latency / 2
        return response

    def _answer(self, now):
        if now < self.until:
            wait = int(-(-(self.until - now) // 1))
            return envelope(None, 429, errors=[{'code': 10429, 'message': 'rate limited'}],
                            headers={'retry-after': str(wait), 'Ratelimit': '"default";r=0;t=%d' % wait})
        if self.start is None or now >= self.start + self.window:
            self.start, self.count = now, 0
        self.count += 1
        if self.count > self.limit:
            self.until, self.start, self.count = now + self.block, now + self.block, 0
            return envelope(None, 429, errors=[{'code': 10429, 'message': 'rate limited'}],
                            headers={'retry-after': str(int(self.block))})
        reset = int(-(-(self.start + self.window - now) // 1))
        headers = {'Ratelimit': '"default";r=%d;t=%d' % (self.limit - self.count, reset)} if self.header else {}
        return envelope({'ok': True}, headers=headers)


def client_on(session, clock, lines=None, warnings=None, **kwargs):
    kwargs.setdefault('rate_limit', 60)
    kwargs.setdefault('rate_window', 20.0)
    return CloudflareClient(TOKEN, api_url='https://api.example.test/client/v4', session=session,
                            clock=clock, sleep=clock.sleep,
                            log=(lines.append if lines is not None else None),
                            warn=(warnings.append if warnings is not None else None), **kwargs)


def most_in_any_window(times, window):
    """The most requests any half-open window [t, t + window) holds."""
    times = sorted(times)
    best, first = 0, 0
    for last, at in enumerate(times):
        while times[first] <= at - window:
            first += 1
        best = max(best, last - first + 1)
    return best


# --- the window -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('latency', [0.0, 0.05, 0.4, 3.0])
def test_no_window_at_the_server_ever_holds_more_than_the_budget(latency):
    """500 requests, limit 60 per 20 s: never a 429, never more than 54 (60 less 10%) in any 20 s at the server,
    and no slower than the budget allows."""
    clock = Clock()
    server = Server(clock, latency=latency)
    client = client_on(server, clock)
    begin = clock.now
    for dummy in range(500):
        client.call('GET', PATH)
    assert client.rate_budget == 54
    assert 429 not in server.statuses
    assert most_in_any_window(server.seen, 20.0) <= 54
    # 54 at once, then 54 more every 20 s: the 500th goes after 9 windows (plus the requests' own time)
    elapsed = clock.now - begin
    assert 9 * 20.0 <= elapsed <= 9 * 20.0 + 500 * latency + 1e-6, elapsed
    # a server slower than the budget (54 answers take longer than the window) is never waited for
    assert (client.pacing['waits'] > 0) == (54 * latency < 20.0) and client.pacing['rate_limited'] == 0


def test_requests_count_from_when_their_answer_arrived():
    """A slow answer: the window starts when it arrived, not when it was sent (Cloudflare counted it in between),
    so requests budget + 1 apart are a whole window apart at the server."""
    clock = Clock()
    server = Server(clock, limit=4, window=20.0, latency=6.0, header=False)
    client = client_on(server, clock, rate_limit=4, rate_window=20.0, rate_headroom=0.0)
    for dummy in range(9):
        client.call('GET', PATH)
    assert all(later - earlier >= 20.0 for earlier, later in zip(server.seen, server.seen[4:]))
    assert 429 not in server.statuses


def test_every_attempt_counts_retries_and_failed_connections_too():
    clock = Clock()
    session = ScriptedSession([requests.exceptions.ConnectionError('refused'),
                               envelope(None, 503, errors=[{'code': 10043, 'message': 'down'}]),
                               envelope({'ok': 1})], repeat_last=True)
    client = client_on(session, clock, rate_limit=3, rate_headroom=0.0, retry_base_delay=0.001, retry_max_delay=0.002)
    client.call('GET', PATH)   # three attempts: the budget of 3 is spent
    before = clock.now
    client.call('GET', PATH)
    assert clock.now - before >= 19.9  # waited for the first attempt to leave the window
    assert client.stats == {'GET %s' % PATH: 4}


def test_pacing_waits_are_logged_once_each_and_counted():
    clock = Clock()
    lines = []
    client = client_on(Server(clock, latency=0.05), clock, lines=lines)
    for dummy in range(120):
        client.call('POST', PATH, body={'name': 'x'})
    waits = [line for line in lines if 'pacing' in line]
    # after 54 and after 108 requests: two waits of nearly a window each (the short ones are counted, not logged)
    assert len(waits) == 2, lines
    assert all(re.fullmatch(r'cloudflare: pacing: the last 54 requests fall within 20s \(rate_limit 60 less the '
                            r'reserve\); waiting \d+\.\ds before POST %s' % PATH, line) for line in waits), waits
    assert client.pacing['waits'] >= 2
    assert abs(client.pacing['waited_seconds'] - sum(clock.sleeps)) < 1e-6
    assert all(TOKEN not in line for line in lines)


def test_rate_limit_0_sends_everything_at_once():
    clock = Clock()
    server = Server(clock, limit=10 ** 6, latency=0.0)
    client = client_on(server, clock, rate_limit=0)
    for dummy in range(2000):
        client.call('GET', PATH)
    assert clock.sleeps == [] and client.pacing['waits'] == 0 and len(server.seen) == 2000


def test_the_default_budget_is_cloudflares_limit_less_ten_percent():
    client = CloudflareClient(TOKEN, session=ScriptedSession([]))
    assert (client.rate_limit, client.rate_window, client.rate_budget, client.rate_reserve) == (1200, 300.0, 1080, 120)
    assert client.deadline is None
    assert [_api.rate_budget(n) for n in (1, 2, 10, 60, 1200)] == [1, 1, 9, 54, 1080]


# --- the Ratelimit header ---------------------------------------------------------------------------------------

def test_a_ratelimit_header_below_the_reserve_waits_for_the_reset():
    """Another client spent the token's budget: 3 left (reserve 6) until the reset in 12 s."""
    clock = Clock()
    lines = []
    session = ScriptedSession([envelope({}, headers={'Ratelimit': '"default";r=3;t=12'}),
                               envelope({}, headers={'Ratelimit': '"default";r=54;t=20'}),
                               envelope({}, headers={'Ratelimit': '"default";r=53;t=19'})])
    client = client_on(session, clock, lines=lines)
    client.call('GET', PATH)
    assert clock.sleeps == []
    client.call('GET', PATH)
    assert clock.sleeps == [12.0]
    client.call('GET', PATH)
    assert clock.sleeps == [12.0]  # the reset came; no further wait
    assert lines == ['cloudflare: 3 requests left for this API token (Ratelimit header), less than the reserve of 6: '
                     'another client is using it; waiting 12.0s for the reset before GET %s' % PATH]
    assert client.pacing['waits'] == 1 and client.pacing['waited_seconds'] == 12.0


def test_a_ratelimit_header_at_the_reserve_is_this_runs_own_spending_and_does_not_wait():
    clock = Clock()
    session = ScriptedSession([envelope({}, headers={'Ratelimit': '"default";r=6;t=12'})] * 2)
    client = client_on(session, clock)
    client.call('GET', PATH)
    client.call('GET', PATH)
    assert clock.sleeps == []


def test_the_fewest_left_of_several_policies_counts_and_a_reset_is_bounded_by_the_window():
    assert _api.parse_ratelimit({'ratelimit': '"default";r=50;t=30, "burst";r=2;t=900'}) == (2, 900.0)
    assert _api.parse_ratelimit({'ratelimit': 'garbage'}) is None and _api.parse_ratelimit({}) is None
    clock = Clock()
    session = ScriptedSession([envelope({}, headers={'Ratelimit': '"default";r=50;t=30, "burst";r=2;t=900'}),
                               envelope({})])
    client = client_on(session, clock)
    client.call('GET', PATH)
    client.call('GET', PATH)
    assert clock.sleeps == [20.0]


def test_a_ratelimit_wait_past_the_deadline_fails_saying_when_to_try_again():
    clock = Clock()
    session = ScriptedSession([envelope({}, headers={'Ratelimit': '"default";r=0;t=250'})])
    client = client_on(session, clock, rate_window=300.0, deadline=100)
    client.call('GET', PATH)
    with pytest.raises(CloudflareRateLimited) as err:
        client.call('POST', PATH, body={'name': 'n'})
    text = str(err.value)
    assert 'another client is using the token' in text and re.search('Try again after %s \\(in 250s\\)' % UTC_DATE_TIME, text)
    assert 'deadline' in text and len(session.calls) == 1 and clock.sleeps == []


def test_pacing_off_ignores_the_ratelimit_header():
    clock = Clock()
    session = ScriptedSession([envelope({}, headers={'Ratelimit': '"default";r=0;t=250'})] * 2)
    client = client_on(session, clock, rate_limit=0)
    client.call('GET', PATH)
    client.call('GET', PATH)
    assert clock.sleeps == []


# --- HTTP 429 ---------------------------------------------------------------------------------------------------

def rate_limited(seconds=None, ratelimit=None):
    headers = {}
    if seconds is not None:
        headers['retry-after'] = str(seconds)
    if ratelimit is not None:
        headers['Ratelimit'] = ratelimit
    return envelope(None, 429, errors=[{'code': 10000, 'message': 'Rate limited. Please wait and consider '
                                        'throttling your request speed'}], headers=headers)


def test_a_429_lockout_of_300_seconds_is_waited_out_within_the_deadline():
    clock = Clock()
    lines, warnings = [], []
    session = ScriptedSession([rate_limited(300), envelope({'id': 'new'})])
    client = client_on(session, clock, lines=lines, warnings=warnings, deadline=900)
    assert client.call('POST', PATH, body={'name': 'n'}) == {'id': 'new'}
    assert clock.sleeps == [300.0] and len(session.calls) == 2   # refused unprocessed, so the POST was resent
    assert len(warnings) == 1 and re.fullmatch(
        r'cloudflare: rate limited on POST %s \(HTTP 429\); waiting 300s \(until %s\) before retry 1/5'
        % (PATH, UTC_TIME), warnings[0]), warnings
    assert client.pacing['rate_limited'] == 1 and client.pacing['rate_limited_seconds'] == 300.0
    assert lines == []  # a warning, not also a log line (R2Module's warn logs it too)


def test_the_ratelimit_t_of_a_429_without_retry_after_is_honoured():
    clock = Clock()
    session = ScriptedSession([rate_limited(ratelimit='"default";r=0;t=42'), envelope({})])
    client = client_on(session, clock, deadline=900)
    client.call('GET', PATH)
    assert clock.sleeps == [42.0]


def test_a_second_lockout_that_would_pass_the_deadline_fails_saying_when_to_try_again():
    clock = Clock()
    warnings = []
    session = ScriptedSession([rate_limited(300), rate_limited(300)])
    client = client_on(session, clock, warnings=warnings, deadline=500)
    before = time.time()
    with pytest.raises(CloudflareRateLimited) as err:
        client.call('GET', PATH)
    after = time.time()
    text = str(err.value)
    assert clock.sleeps == [300.0] and len(warnings) == 1
    match = re.search(r'Try again after (%s) \(in 300s\); waiting would end past the deadline of this run \(option '
                      r'deadline, 500s after its start; 300s have passed\)\.' % UTC_DATE_TIME, text)
    assert match, text
    # the clock is fake, the UTC time real: the time said is now + 300 s
    retry_at = calendar.timegm(time.strptime(match.group(1), '%Y-%m-%d %H:%M:%S UTC'))
    assert before + 300 <= retry_at <= after + 300 + 1
    assert 'HTTP 429' in text and 'five minutes' in text
    assert err.value.retry_after == 300 and err.value.status == 429
    secret_forms.assert_no_leak(text, {'token': secret_forms.forms(TOKEN, TOKEN)}, 'the message')


def test_a_429_is_not_waited_for_when_retries_are_spent():
    clock = Clock()
    session = ScriptedSession([rate_limited(5)] * 2)
    client = client_on(session, clock, retries=1, deadline=900)
    with pytest.raises(CloudflareRateLimited) as err:
        client.call('GET', PATH)
    assert 'after 1 retries (option retries)' in str(err.value) and clock.sleeps == [5.0]


def test_a_429_asking_for_more_than_the_lockout_fails_at_once():
    clock = Clock()
    session = ScriptedSession([rate_limited(3600)])
    client = client_on(session, clock)
    with pytest.raises(CloudflareRateLimited) as err:
        client.call('GET', PATH)
    assert 'longer than its lockout of 300s' in str(err.value) and '(in 3600s)' in str(err.value)
    assert clock.sleeps == []


def test_deadline_0_never_waits_for_a_429():
    clock = Clock()
    session = ScriptedSession([rate_limited(2)])
    client = client_on(session, clock, deadline=0)
    with pytest.raises(CloudflareRateLimited) as err:
        client.call('GET', PATH)
    assert clock.sleeps == [] and 'the option deadline is 0 (never wait for a rate limit)' in str(err.value)


def test_a_429_with_pacing_off_is_still_waited_out():
    clock = Clock()
    session = ScriptedSession([rate_limited(7), envelope({})])
    client = client_on(session, clock, rate_limit=0, deadline=60)
    client.call('GET', PATH)
    assert clock.sleeps == [7.0]


def test_a_lockout_of_the_fake_server_is_waited_out_and_then_paced():
    """A run that starts on a token another client has just locked out: it waits out the block, then stays
    within the budget (one 429, the first answer)."""
    clock = Clock()
    server = Server(clock, limit=60, window=20.0, block=20.0, latency=0.05)
    server.until = clock.now + 15
    client = client_on(server, clock, deadline=900)
    for dummy in range(200):
        client.call('GET', PATH)
    assert server.statuses.count(429) == 1 and server.statuses[0] == 429


# --- the options ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('option, value, words', [
    ('rate_limit', -1, 'rate_limit must be a whole number of requests per rate_window, 0 to turn pacing off'),
    ('rate_limit', 2.5, 'rate_limit must be a whole number'),
    ('rate_limit', True, 'rate_limit must be a whole number'),
    ('rate_window', 0, 'rate_window must be a positive number of seconds'),
    ('rate_window', float('inf'), 'rate_window must be a positive number of seconds'),
    ('rate_window', 'soon', 'rate_window must be a positive number of seconds'),
    ('deadline', -5, 'deadline must be 0 or more seconds'),
    ('deadline', float('nan'), 'deadline must be 0 or more seconds'),
    ('rate_headroom', 1.0, 'rate_headroom must be a fraction from 0 to below 1'),
])
def test_bad_pacing_options_are_refused_naming_the_option_before_any_request(option, value, words):
    session = ScriptedSession([])
    with pytest.raises(CloudflareInputError) as err:
        CloudflareClient(TOKEN, session=session, **{option: value})
    assert str(err.value).startswith(words) and 'got ' in str(err.value), str(err.value)
    assert session.calls == []


@pytest.mark.parametrize('option, value, words', [
    ('rate_limit', -1, 'rate_limit must be a whole number of requests per rate_window'),
    ('rate_window', 0.0, 'rate_window must be a positive number of seconds'),
    ('deadline', -1.0, 'deadline must be 0 or more seconds'),
])
def test_a_module_fails_with_one_message_naming_a_bad_pacing_option(monkeypatch, option, value, words):
    real = _module.client_from_options
    cloudflare = modules_use(monkeypatch, FakeCloudflare(ACCOUNT))
    # the real client_from_options, with the options as the module gives them, on the fake's session
    monkeypatch.setattr(_module, 'client_from_options', real)
    monkeypatch.setattr(_module, 'CloudflareClient', functools.partial(_api.CloudflareClient,
                                                                       session=cloudflare.session()))
    outcome = run_module(r2_token_info, {'api_token': TOKEN, 'account_id': ACCOUNT, option: value})
    assert outcome.failed and outcome.result['msg'].startswith(words), outcome.result
    assert cloudflare.calls == []


def test_client_from_options_passes_the_pacing_options_and_defaults():
    client = _module.client_from_options({'api_token': TOKEN, 'api_url': None, 'rate_limit': 60, 'rate_window': 6.0,
                                          'deadline': 30.0})
    assert (client.rate_limit, client.rate_window, client.rate_budget, client.deadline) == (60, 6.0, 54, 30.0)
    client = _module.client_from_options({'api_token': TOKEN})
    assert (client.rate_limit, client.rate_window, client.deadline) == (1200, 300.0, 900.0)
    spec = _module.connection_argspec()
    assert spec['rate_limit'] == {'type': 'int', 'default': 1200}
    assert spec['rate_window'] == {'type': 'float', 'default': 300.0}
    assert spec['deadline'] == {'type': 'float', 'default': 900.0}


def test_a_module_shows_a_429_wait_as_a_warning_of_the_task(monkeypatch):
    """R2Module routes the client's 429 waits to the task's warnings (and the module log)."""
    cloudflare = modules_use(monkeypatch, FakeCloudflare(ACCOUNT))
    cloudflare.script.append(('GET', r'/accounts/[0-9a-f]+/tokens$', rate_limited(3)))
    outcome = run_module(r2_token_info, {'api_token': TOKEN, 'account_id': ACCOUNT})
    assert not outcome.failed, outcome.result
    warnings = [w for w in outcome.result['warnings'] if 'rate limited' in w]
    assert len(warnings) == 1 and re.fullmatch(
        r'cloudflare: rate limited on GET %s \(HTTP 429\); waiting 3s \(until %s\) before retry 1/5'
        % (PATH, UTC_TIME), warnings[0]), outcome.result['warnings']
