# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""_audit: token findings around each threshold, managed name formats, the inventory plan and the report."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import json

import pytest

from ansible_collections.cloudflare_r2.credentials.plugins.module_utils import _audit, _r2

NOW = datetime.datetime(2027, 3, 1, 12, 0, 0, tzinfo=datetime.timezone.utc)
DAY = 86400
ACCOUNT = '0123456789abcdef0123456789abcdef'
OTHER = 'fedcba9876543210fedcba9876543210'
LIMITS = _audit.limits()


def at(seconds_ago):
    return _r2.format_time(NOW - datetime.timedelta(seconds=seconds_ago))


def token(**fields):
    """A decoded token with nothing to report at NOW; ``fields`` override."""
    base = {'id': 'a' * 32, 'name': 'clean', 'status': 'active', 'expires_on': at(-60 * DAY), 'not_before': None,
            'ip_allow': ['192.0.2.0/24'], 'ip_deny': [], 'issued_on': at(10 * DAY), 'modified_on': at(10 * DAY),
            'last_used_on': at(DAY)}
    base.update(fields)
    return base


def codes(tok, limits=None):
    return [f['code'] for f in _audit.findings(tok, NOW, limits or LIMITS)]


def message(tok, code, limits=None):
    return [f['message'] for f in _audit.findings(tok, NOW, limits or LIMITS) if f['code'] == code][0]


def test_a_clean_token_has_no_findings():
    assert _audit.findings(token(), NOW, LIMITS) == []


def test_defaults_are_cnspec_365_days_and_90_days_unused_and_30_days_warning():
    assert LIMITS == {'not_rotated_after': 365 * DAY, 'unused_after': 90 * DAY, 'expires_within': 30 * DAY}


@pytest.mark.parametrize('age,flagged', [(365 * DAY - 1, False), (365 * DAY, True), (400 * DAY, True)])
def test_not_rotated_counts_from_modified_on(age, flagged):
    tok = token(issued_on=at(800 * DAY), modified_on=at(age))
    assert ('not_rotated' in codes(tok)) is flagged
    if flagged:
        text = message(tok, 'not_rotated')
        assert 'modified_on %s' % at(age) in text and 'the limit is 365d' in text and '%d days' % (age // DAY) in text


def test_not_rotated_falls_back_to_issued_on():
    assert 'not_rotated' in codes(token(modified_on=None, issued_on=at(365 * DAY)))
    assert 'issued_on' in message(token(modified_on=None, issued_on=at(365 * DAY)), 'not_rotated')
    assert 'not_rotated' not in codes(token(modified_on=None, issued_on=at(365 * DAY - 1)))
    # a roll (modified_on) resets the count, however old the token is
    assert 'not_rotated' not in codes(token(modified_on=at(DAY), issued_on=at(900 * DAY)))
    # nothing to count from: nothing reported
    assert 'not_rotated' not in codes(token(modified_on=None, issued_on=None))


@pytest.mark.parametrize('ago,flagged', [(90 * DAY - 1, False), (90 * DAY, True), (200 * DAY, True)])
def test_unused_after_the_last_use(ago, flagged):
    tok = token(last_used_on=at(ago), issued_on=at(300 * DAY))
    assert ('unused' in codes(tok)) is flagged
    if flagged:
        assert message(tok, 'unused').startswith('last used %d days ago (%s)' % (ago // DAY, at(ago)))


@pytest.mark.parametrize('issued,flagged', [(90 * DAY - 1, False), (90 * DAY, True)])
def test_never_used_is_unused_only_once_old_enough(issued, flagged):
    tok = token(last_used_on=None, issued_on=at(issued), modified_on=at(issued))
    assert ('unused' in codes(tok)) is flagged
    if flagged:
        assert message(tok, 'unused').startswith('never used since it was issued 90 days ago')


def test_never_used_without_an_issue_date_is_unused():
    assert message(token(last_used_on=None, issued_on=None), 'unused') == 'never used (issue date unknown)'


def test_expired_at_its_expiry_and_by_status():
    assert 'expired' in codes(token(expires_on=at(0)))
    assert message(token(expires_on=at(5)), 'expired') == 'its expiry %s has passed' % at(5)
    assert 'expired' not in codes(token(expires_on=at(-1)))
    assert 'expired' in codes(token(status='expired'))
    assert message(token(status='expired', expires_on=None), 'expired') == 'status expired'
    # an expired token does not also "expire soon"
    assert 'expires_soon' not in codes(token(expires_on=at(0)))


@pytest.mark.parametrize('left,flagged', [(1, True), (30 * DAY, True), (30 * DAY + 1, False)])
def test_expires_soon_within_the_warning(left, flagged):
    tok = token(expires_on=at(-left))
    assert ('expires_soon' in codes(tok)) is flagged


def test_expires_soon_message_and_off_with_zero():
    assert message(token(expires_on=at(-3 * DAY)), 'expires_soon') == \
        'expires on %s, in 3 days (warned 30d ahead)' % at(-3 * DAY)
    assert 'expires_soon' not in codes(token(expires_on=at(-3 * DAY)), _audit.limits(expires_within=0))


def test_dead_states():
    assert codes(token(status='disabled')) == ['disabled']
    assert codes(token(status='revoked (exposed)')) == ['revoked_exposed']
    assert 'cannot be restored' in message(token(status='revoked (exposed)'), 'revoked_exposed')


def test_no_expiry_and_no_ip_restriction():
    assert codes(token(expires_on=None)) == ['no_expiry']
    assert codes(token(ip_allow=[])) == ['no_ip_restriction']
    # a deny list leaves every other address able to use the token
    assert codes(token(ip_allow=[], ip_deny=['198.51.100.0/24'])) == ['no_ip_restriction']
    assert 'but the 1 range(s) of ip_deny' in message(token(ip_allow=[], ip_deny=['198.51.100.0/24']), 'no_ip_restriction')


def test_every_finding_at_once_in_the_documented_order():
    tok = token(status='revoked (exposed)', expires_on=None, ip_allow=[], modified_on=at(500 * DAY),
                issued_on=at(500 * DAY), last_used_on=None)
    assert codes(tok) == ['revoked_exposed', 'not_rotated', 'unused', 'no_expiry', 'no_ip_restriction']
    dying = token(status='disabled', expires_on=at(-DAY), ip_allow=[], modified_on=at(500 * DAY),
                  last_used_on=at(100 * DAY))
    assert codes(dying) == ['disabled', 'expires_soon', 'not_rotated', 'unused', 'no_ip_restriction']
    assert [c for c in _audit.FINDINGS if c in codes(dying) + codes(tok) + ['expired']] == \
        sorted(set(codes(dying) + codes(tok) + ['expired']), key=_audit.FINDINGS.index)


def test_custom_limits():
    limits = _audit.limits(not_rotated_after='10d', unused_after=3600, expires_within='0')
    assert limits == {'not_rotated_after': 10 * DAY, 'unused_after': 3600, 'expires_within': 0}
    assert codes(token(modified_on=at(10 * DAY), last_used_on=at(3600)), limits) == ['not_rotated', 'unused']
    assert 'the limit is 1h' in message(token(last_used_on=at(7200)), 'unused', limits)
    # an empty string is the default, as an omitted option
    assert _audit.limits('', '', '') == LIMITS


@pytest.mark.parametrize('field,value', [
    ('not_rotated_after', '90 days'), ('not_rotated_after', 0), ('not_rotated_after', True),
    ('unused_after', '0'), ('unused_after', -5), ('unused_after', '12y'), ('expires_within', '1d\n'),
    ('expires_within', [30]),
])
def test_bad_limits_name_the_option(field, value):
    with pytest.raises(_r2.R2ValueError) as info:
        _audit.limits(**{field: value})
    assert str(info.value).startswith('%s: must be a duration' % field)


def test_unreadable_times_count_as_unset():
    tok = token(modified_on='yesterday', issued_on='2026-13-45', expires_on='soon', last_used_on='never')
    assert codes(tok) == ['unused', 'no_expiry']


def test_span():
    assert [_audit.span(s) for s in (0, 59, 60, 90, 3599, 3600, 86399, 86400, 2 * DAY + 5, 5 * DAY - 1,
                                     10 * DAY - 1, 400 * DAY + 7200)] == [
        '0 seconds', '59 seconds', '1 minute', '1 minute 30 seconds', '59 minutes', '1 hour',
        '23 hours', '1 day', '2 days', '4 days 23 hours', '9 days 23 hours', '400 days']


# -- managed names ---------------------------------------------------------------

DEFAULT_PATTERNS = [_audit.name_pattern('ansible:{host}/{name}')]


@pytest.mark.parametrize('name,managed', [
    ('ansible:web1/app', True),
    ('ansible:web1/app~next', True),
    ('ansible:web1.example.com/media-2_x.y', True),
    ('ansible:a/b/c', True),            # the host part takes any text
    ('ansible:web1/', False),
    ('ansible:/app', False),
    ('ansible:web1/app~next~next', False),
    ('ansible:web1/-app', False),       # not a credential name the role accepts
    ('ansible:web1/app two', False),
    ('ansible:web1/app\n', False),
    ('xansible:web1/app', False),
    ('ansible:web1/app ', False),
    ('backup-web1', False),
    ('ansible:%s/app' % ('h' * 103), True),   # 115 characters: room left for ~next
    ('ansible:%s/app' % ('h' * 104), False),  # 116: the role never makes it
    ('', False),
    (None, False),
])
def test_is_managed_with_the_default_format(name, managed):
    assert _audit.is_managed(name, DEFAULT_PATTERNS) is managed


def test_name_pattern_takes_literal_parts_literally():
    pattern = _audit.name_pattern('[r2] {host}.{name}')
    assert pattern.fullmatch('[r2] web1.app') and not pattern.fullmatch('r web1.app')
    assert not pattern.fullmatch('[r2] web1xapp')
    braces = _audit.name_pattern('{{r2}} {host}/{name}')
    assert braces.fullmatch('{r2} web1/app') and not braces.fullmatch('{{r2}} web1/app')


def test_a_field_used_twice_is_the_same_text_both_times():
    pattern = _audit.name_pattern('{host}/{name}@{host}')
    assert pattern.fullmatch('web1/app@web1') and not pattern.fullmatch('web1/app@web2')


@pytest.mark.parametrize('name_format', ['{host}', '{host}/{name}/{x}', '{host}/{name!r}', '{name', 5, None])
def test_a_format_the_role_refuses_manages_nothing(name_format):
    assert _audit.name_pattern(name_format) is None


# -- the plan ----------------------------------------------------------------------

def host(name, credentials=None, **variables):
    variables = dict(('provision_' + k, v) for k, v in variables.items())
    variables.setdefault('provision_account_id', ACCOUNT)
    variables['provision_credentials'] = credentials
    return {'host': name, 'vars': variables}


def cred(name, **fields):
    return dict(fields, name=name)


def test_plan_groups_by_account_and_owner_with_the_declared_names():
    hosts = [
        host('web1', [cred('app'), cred('cache', type='temporary', bucket='b'), cred('old', state='absent')],
             api_url='http://127.0.0.1:1/client/v4', validate_certs=False, api_token='not read'),
        host('web2', [cred('app')], token_name_format='r2:{name}@{host}', account_id=ACCOUNT.upper()),
        host('db1', [cred('dump')], account_id=OTHER),
        host('ops1', [cred('admin')], owner='user'),
        host('bare'),                                   # no credentials: declares nothing
        host('nowhere', [], account_id=None),           # no account and nothing declared: no problem
    ]
    plan = _audit.plan(hosts)
    assert plan['problems'] == []
    first, other, user = plan['accounts']
    assert (first['owner'], first['account_id'], first['hosts']) == ('account', ACCOUNT, ['bare', 'web1', 'web2'])
    assert first['formats'] == ['ansible:{host}/{name}', 'r2:{name}@{host}']
    # temporary credentials make no token; an absent one is declared absent
    assert first['declared'] == ['ansible:web1/app', 'r2:app@web2']
    assert first['absent'] == ['ansible:web1/old']
    assert first['connection'] == {'host': 'web1', 'api_url': 'http://127.0.0.1:1/client/v4', 'validate_certs': False}
    assert first['lock'] == {'enabled': True, 'key': 'account-%s' % ACCOUNT, 'timeout': 600, 'lock_dir': None}
    assert (other['account_id'], other['declared']) == (OTHER, ['ansible:db1/dump'])
    assert (user['owner'], user['declared']) == ('user', ['ansible:ops1/admin'])
    assert user['lock']['key'] == 'user-%s' % ACCOUNT
    assert 'not read' not in json.dumps(plan)


def test_a_name_declared_present_anywhere_is_not_absent():
    plan = _audit.plan([host('web1', [cred('app', state='absent')], token_name_format='{name}:{host}'),
                        host('web1', [cred('app')], token_name_format='{name}:{host}')])
    assert (plan['accounts'][0]['declared'], plan['accounts'][0]['absent']) == (['app:web1'], [])


def test_only_the_accounts_of_the_run_but_every_hosts_declarations():
    hosts = [host('web1', [cred('app')]), host('web2', [cred('app')]), host('db1', [cred('dump')], account_id=OTHER)]
    plan = _audit.plan(hosts, targets=['web2'])
    assert [a['account_id'] for a in plan['accounts']] == [ACCOUNT]
    account = plan['accounts'][0]
    assert account['declared'] == ['ansible:web1/app', 'ansible:web2/app']
    # the connection settings come from a host of the run
    assert account['connection']['host'] == 'web2'


def test_user_owned_names_count_for_every_account():
    hosts = [host('u1', [cred('a')], owner='user'), host('u2', [cred('b')], owner='user', account_id=OTHER)]
    accounts = _audit.plan(hosts)['accounts']
    assert [a['declared'] for a in accounts] == [['ansible:u1/a', 'ansible:u2/b']] * 2


def test_lenient_declarations_keep_their_tokens_from_being_orphans():
    # the role would refuse these credentials, but their names are still declared
    plan = _audit.plan([host('web1', [cred('app', permission='superuser'), cred('x', type='weird'), 'junk',
                                      {'name': 5}])])
    assert plan['accounts'][0]['declared'] == ['ansible:web1/app', 'ansible:web1/x']


@pytest.mark.parametrize('variables,problem', [
    (dict(credentials='app'), 'web1: provision_credentials: must be a list'),
    (dict(credentials=[cred('app')], account_id='abc'), 'web1: provision_account_id: must be 32 hexadecimal'),
    (dict(credentials=[cred('app')], account_id=''), 'web1: provision_account_id: must be 32 hexadecimal'),
    (dict(credentials=[cred('app')], owner='team'), "web1: provision_owner: must be account or user, got 'team'"),
    (dict(credentials=[cred('app')], token_name_format='{name}'), 'web1: provision_token_name_format: must be'),
])
def test_problems_name_the_host_and_the_variable(variables, problem):
    plan = _audit.plan([host('web1', **variables), host('web2', [cred('app')])])
    assert len(plan['problems']) == 1 and plan['problems'][0].startswith(problem)
    assert [a['hosts'] for a in plan['accounts']] == [['web2']]


def test_a_host_name_with_a_control_character_is_shown_escaped():
    plan = _audit.plan([host('web\x1b[31m1', 'app')])
    assert plan['problems'] == ['web\\x1b[31m1: provision_credentials: must be a list; the audit cannot tell which '
                                'tokens it declares']


@pytest.mark.parametrize('value', [False, 'false', 'no', '0'])
def test_lock_settings_follow_the_role_variables(value):
    plan = _audit.plan([host('web1', [cred('app')], lock=value, lock_timeout=30, lock_dir='/run/r2')])
    assert plan['accounts'][0]['lock'] == {'enabled': False, 'key': 'account-%s' % ACCOUNT, 'timeout': 30,
                                           'lock_dir': '/run/r2'}
    assert _audit.plan([host('web1', [cred('app')], lock='yes')])['accounts'][0]['lock']['enabled'] is True


# -- the report ----------------------------------------------------------------------

def listed(name, token_id, **fields):
    tok = token(name=name, id=token_id, **fields)
    tok['findings'] = _audit.findings(tok, NOW, LIMITS)
    return tok


def test_report_of_one_account():
    hosts = [host('web1', [cred('app'), cred('old', state='absent')]), host('web2', [cred('app')])]
    account = _audit.plan(hosts)['accounts'][0]
    tokens = [
        listed('ansible:web1/app', '1' * 32),
        listed('ansible:web1/app~next', '2' * 32),                      # rotation in flight
        listed('ansible:web2/app', '3' * 32, expires_on=None),
        listed('ansible:web1/old', '4' * 32),                           # declared absent
        listed('ansible:gone/app', '5' * 32, status='disabled'),        # orphans: a host that left
        listed('ansible:gone/app', '6' * 32),                           # (duplicate name)
        listed('ansible:gone/app~next', '7' * 32),
        listed('ansible:web1/db', '8' * 32, ip_allow=[]),               # a credential web1 no longer declares
        listed('backup-web1', '9' * 32, expires_on=None),               # outside the format: never touched
        listed('ansible:web1/app two', 'a' * 32),
    ]
    result = _audit.report([{'item': account, 'tokens': tokens, 'quota': {'used': 212, 'limit': 500}}])
    [one] = result['accounts']
    states = dict((t['id'], t['state']) for t in one['managed'])
    assert states == {'1' * 32: 'declared', '2' * 32: 'rotation in flight', '3' * 32: 'declared',
                      '4' * 32: 'declared absent', '5' * 32: 'orphan', '6' * 32: 'orphan', '7' * 32: 'orphan',
                      '8' * 32: 'orphan'}
    assert sorted(t['id'] for t in one['orphans']) == ['5' * 32, '6' * 32, '7' * 32, '8' * 32]
    assert one['outside'] == 2
    assert one['prune'] == [{'name': 'ansible:gone/app', 'state': 'absent', 'label': 'orphan ansible:gone/app'},
                            {'name': 'ansible:web1/db', 'state': 'absent', 'label': 'orphan ansible:web1/db'}]
    assert one['finding_counts'] == {'no_expiry': 1, 'disabled': 1, 'no_ip_restriction': 1}
    assert one['quota'] == {'used': 212, 'limit': 500}
    assert one['connection'] == {'host': 'web1'}
    assert (result['orphans'], result['prune'], result['problems']) == (4, True, [])
    assert result['lines'] == [
        'account %s, account-owned tokens: 212 of 500 in use' % ACCOUNT,
        '  name format: ansible:{host}/{name}',
        '  managed tokens: 8 (2 declared, 1 rotation in flight, 1 declared absent, 4 orphan); outside the name '
        'format, never touched: 2',
        '  ansible:gone/app (id %s, disabled, ORPHAN)' % ('5' * 32),
        '    disabled: Cloudflare refuses it until it is enabled again (status disabled)',
        '  ansible:gone/app (id %s, active, ORPHAN): no findings' % ('6' * 32),
        '  ansible:gone/app~next (id %s, active, ORPHAN): no findings' % ('7' * 32),
        '  ansible:web1/app (id %s, active, declared): no findings' % ('1' * 32),
        '  ansible:web1/app~next (id %s, active, rotation in flight): no findings' % ('2' * 32),
        '  ansible:web1/db (id %s, active, ORPHAN)' % ('8' * 32),
        '    no_ip_restriction: no ip_allow list, so it works from any address',
        '  ansible:web1/old (id %s, active, declared absent): no findings' % ('4' * 32),
        '  ansible:web2/app (id %s, active, declared)' % ('3' * 32),
        '    no_expiry: never expires (expires_on is not set)',
        '  findings: disabled 1, no_expiry 1, no_ip_restriction 1',
        '  orphans (no inventory host declares them): 4 token(s): ansible:gone/app, ansible:gone/app, '
        'ansible:gone/app~next, ansible:web1/db; prune=true deletes them',
    ]


def test_report_without_orphans_quota_from_the_listing_and_problems():
    account = _audit.plan([host('u1', [cred('a')], owner='user')])['accounts'][0]
    result = _audit.report([{'item': account, 'tokens': [listed('ansible:u1/a', '1' * 32)]}], ['web9: a problem'])
    assert result['accounts'][0]['quota'] == {'used': 1, 'limit': 50}
    assert (result['orphans'], result['prune']) == (0, False)
    assert 'account %s, user-owned tokens: 1 of 50 in use' % ACCOUNT in result['lines']
    assert result['lines'][-4:] == ['  findings: none', '  orphans (no inventory host declares them): none',
                                    'problems (prune is refused while there are any): 1', '  web9: a problem']


def test_report_of_nothing():
    assert _audit.report([])['lines'] == ['no account to audit: no host of this run sets provision_account_id']
