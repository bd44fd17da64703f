# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""r2_token_info: findings per token, their thresholds, the quota, and what stays as it was."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

import pytest
import yaml

from ansible_collections.cloudflare_r2.credentials.plugins.module_utils import _r2
from ansible_collections.cloudflare_r2.credentials.plugins.modules import r2_token_info
from ansible_collections.cloudflare_r2.credentials.tests.unit.utils.ansible_module import (
    message_of,
    result_of,
    run_module,
)
from ansible_collections.cloudflare_r2.credentials.tests.unit.utils.fake_cloudflare import FakeCloudflare, modules_use

ACCOUNT = '0123456789abcdef0123456789abcdef'
API_TOKEN = 'cfut_' + 'Pq3Ws5Ed7Rf9Tg1Yh3Uj5Ik7Ol9Za2Xs' + 'Cd4Vf6B'
DAY = 86400


@pytest.fixture
def fake(monkeypatch):
    return modules_use(monkeypatch, FakeCloudflare(ACCOUNT))


def ago(seconds):
    return _r2.format_time(datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=seconds))


def run(check=False, **args):
    params = dict(api_token=API_TOKEN, account_id=ACCOUNT, **args)
    return run_module(r2_token_info, params, check=check)


def ok(**args):
    return result_of(run(**args))


def by_name(result):
    return dict((t['name'], [f['code'] for f in t['findings']]) for t in result['tokens'])


def seed(fake):
    """One token per finding (and a clean one), times relative to now with room for a slow test."""
    allow = {'request_ip': {'in': ['192.0.2.0/24']}}
    fresh = dict(issued_on=ago(DAY), modified_on=ago(DAY), last_used_on=ago(60), expires_on=ago(-200 * DAY),
                 condition=allow)
    fake.add_token('clean', **fresh)
    fake.add_token('exposed', **dict(fresh, status='revoked (exposed)'))
    fake.add_token('expired', **dict(fresh, expires_on=ago(DAY)))
    fake.add_token('disabled', **dict(fresh, status='disabled'))
    fake.add_token('soon', **dict(fresh, expires_on=ago(-5 * DAY)))
    fake.add_token('stale', **dict(fresh, issued_on=ago(500 * DAY), modified_on=ago(400 * DAY)))
    fake.add_token('idle', **dict(fresh, last_used_on=ago(120 * DAY), issued_on=ago(200 * DAY)))
    fake.add_token('never-used', **dict(fresh, last_used_on=None, issued_on=ago(100 * DAY),
                                        modified_on=ago(100 * DAY)))
    fake.add_token('young', **dict(fresh, last_used_on=None))
    fake.add_token('forever', **dict(fresh, expires_on=None))
    fake.add_token('anywhere', **dict(fresh, condition={}))


def test_every_token_comes_with_its_findings(fake):
    seed(fake)
    result = ok()
    assert by_name(result) == {
        'clean': [], 'exposed': ['revoked_exposed'], 'expired': ['expired'], 'disabled': ['disabled'],
        'soon': ['expires_soon'], 'stale': ['not_rotated'], 'idle': ['unused'], 'never-used': ['unused'],
        'young': [], 'forever': ['no_expiry'], 'anywhere': ['no_ip_restriction'],
    }
    stale = [t for t in result['tokens'] if t['name'] == 'stale'][0]
    assert stale['findings'][0]['message'].startswith('no new secret for 400 days (modified_on ')
    assert stale['findings'][0]['message'].endswith('the limit is 365d')
    assert result['changed'] is False and [c[0] for c in fake.calls] == ['GET']


def test_thresholds_are_options(fake):
    seed(fake)
    result = ok(not_rotated_after='12h', unused_after=30, expires_within=0)
    codes = by_name(result)
    # every token got its last new secret a day ago and was last used a minute ago (young: never, issued a day ago)
    assert codes['clean'] == ['not_rotated', 'unused'] and codes['young'] == ['not_rotated', 'unused']
    assert codes['soon'] == ['not_rotated', 'unused']
    assert ok(not_rotated_after='401d', unused_after='121d')['tokens'] and \
        by_name(ok(not_rotated_after='401d', unused_after='121d'))['stale'] == []


@pytest.mark.parametrize('option,value', [
    ('not_rotated_after', '1y'), ('unused_after', 0), ('unused_after', '-3d'), ('expires_within', True),
    ('expires_within', '30 d'),
])
def test_a_bad_threshold_fails_before_any_api_call(fake, option, value):
    fake.add_token('one')
    outcome = run(**{option: value})
    assert message_of(outcome).startswith('%s: must be a duration' % option)
    assert fake.calls == []


def test_quota_counts_every_token_of_the_owner(fake):
    for index in range(3):
        fake.add_token('app-%d' % index)
    fake.add_token('other')
    fake.add_token('mine', owner='user')
    result = ok(name_prefix='app-')
    assert len(result['tokens']) == 3 and result['quota'] == {'used': 4, 'limit': 500}
    assert ok(owner='user', name='nothing')['quota'] == {'used': 1, 'limit': 50}


def test_existing_results_stay_and_query_sees_the_findings(fake):
    seed(fake)
    result = ok(name='exposed', query="[?findings[?code=='revoked_exposed']].name")
    [token] = result['tokens']
    # the keys of 0.3.0 are all there
    assert set(token) >= {'id', 'name', 'owner', 'status', 'permission', 'buckets', 'all_buckets', 'expires_on',
                          'not_before', 'ip_allow', 'ip_deny', 'issued_on', 'modified_on', 'last_used_on',
                          'findings'}
    assert result['query_result'] == ['exposed']
    # the query of the module's EXAMPLES
    example = [e for e in yaml.safe_load(r2_token_info.EXAMPLES) if 'not_rotated_after' in
               e['cloudflare_r2.credentials.r2_token_info']][0]['cloudflare_r2.credentials.r2_token_info']
    assert sorted(ok(**example)['query_result']) == ['disabled', 'expired', 'exposed', 'never-used', 'stale']


def test_runs_the_same_in_check_mode(fake):
    seed(fake)
    assert by_name(result_of(run(check=True))) == by_name(ok())
    assert not fake.writes


def test_new_options_and_returns_are_documented():
    doc = yaml.safe_load(r2_token_info.DOCUMENTATION)
    returns = yaml.safe_load(r2_token_info.RETURN)
    for option, default in (('not_rotated_after', '365d'), ('unused_after', '90d'), ('expires_within', '30d')):
        assert doc['options'][option]['default'] == default and doc['options'][option]['version_added'] == '0.4.0'
    assert returns['tokens']['contains']['findings']['version_added'] == '0.4.0'
    assert returns['quota']['version_added'] == '0.4.0'
    findings = ' '.join(returns['tokens']['contains']['findings']['description'])
    for code in ('revoked_exposed', 'expired', 'disabled', 'expires_soon', 'not_rotated', 'unused', 'no_expiry',
                 'no_ip_restriction'):
        assert 'V(%s)' % code in findings
