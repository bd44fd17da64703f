"""r2_token / r2_token_info through real ansible-playbook runs against the emulator.

Traffic goes module -> recorder -> Prism (official OpenAPI extract, --errors)
-> emulator; conftest fails any test whose traffic broke the contract.
"""

import functools
import json
import re

import pytest

# A token value (new format) or an S3 secret (SHA-256 hex) anywhere in output is a leak.
SECRET_PATTERNS = (re.compile(r'cf[au]t_[A-Za-z0-9]{40}'), re.compile(r'\b[0-9a-f]{64}\b'))


def assert_no_secrets(output, secrets=()):
    """Fail if a known secret or anything secret-shaped appears in the output.

    Plain ``assert`` is avoided on purpose: pytest's assertion rewriting would
    print the secret and the text around it in the failure report.
    """
    leaks = sum(1 for secret in secrets if not secret or secret in output)
    shapes = [pattern.pattern for pattern in SECRET_PATTERNS if pattern.search(output)]
    if leaks or shapes:
        pytest.fail('%d known secret(s) and secret-shaped text matching %s appear in the output (values masked)'
                    % (leaks, shapes or 'nothing'), pytrace=False)


def read_secrets(path):
    with open(path) as handle:
        secrets = json.load(handle)
    assert secrets and all(isinstance(s, str) and len(s) >= 40 for s in secrets)
    return secrets


# The jurisdictions of the lifecycle matrix: every one Cloudflare documents (us since 2026-08).
JURISDICTIONS = ('default', 'eu', 'fedramp', 'us')

GROUP_IDS = {
    'admin_read_write': 'bf7481a1826f439697cb59a20b22293e',
    'admin_read_only': 'b4992e1108244f5d8bfbd5744320c2e1',
    'object_read_write': '2efd5506f9c8494dacb1fa10a3e7d5b6',
    'object_read_only': '6a018a9f2fc74eb6b293b0c548f38b39',
}


def r2_policies(account_id, permission, buckets=None):
    """Raw Cloudflare policies for seeding tokens directly into the emulator."""
    if permission.startswith('admin'):
        resources = {'com.cloudflare.api.account.%s' % account_id: '*'}
    elif buckets:
        resources = {'com.cloudflare.edge.r2.bucket.%s_%s_%s' % (account_id, j, b): '*' for j, b in buckets}
    else:
        resources = {'com.cloudflare.api.account.%s' % account_id: {'com.cloudflare.edge.r2.bucket.*': '*'}}
    return [{'effect': 'allow', 'permission_groups': [{'id': GROUP_IDS[permission]}], 'resources': resources}]


def matrix():
    """Account and user tokens x four permissions x the jurisdictions (us for account tokens)."""
    cases = []
    for owner in ('account', 'user'):
        cases.append({'owner': owner, 'permission': 'admin_read_write', 'endpoints': list(JURISDICTIONS),
                      'change': {'permission': 'admin_read_only'}})
        cases.append({'owner': owner, 'permission': 'admin_read_only', 'endpoints': list(JURISDICTIONS),
                      'change': {'permission': 'object_read_write', 'buckets': ['switched-to-objects']}})
        # us for account tokens only: user tokens take the same resource keys, and each case costs a playbook run
        for jurisdiction in (JURISDICTIONS if owner == 'account' else ('default', 'eu', 'fedramp')):
            data, logs = '%s-data' % jurisdiction, '%s-logs' % jurisdiction
            cases.append({'owner': owner, 'permission': 'object_read_write', 'jurisdiction': jurisdiction,
                          'buckets': [data], 'endpoints': [jurisdiction],
                          'change': {'permission': 'object_read_only', 'buckets': [data, logs]}})
            cases.append({'owner': owner, 'permission': 'object_read_only', 'jurisdiction': jurisdiction,
                          'buckets': [data, {'name': 'shared-default', 'jurisdiction': 'default'}],
                          'endpoints': sorted({jurisdiction, 'default'}),
                          'change': {'permission': 'object_read_write', 'buckets': [logs]}})
    # An object permission on every bucket reaches every jurisdiction.
    cases.append({'owner': 'account', 'permission': 'object_read_only', 'endpoints': list(JURISDICTIONS),
                  'change': {'permission': 'object_read_write'}})
    return cases


def create_case_buckets(cf, cases):
    """r2_token checks that scoped buckets exist, so every bucket a case names is created first."""
    wanted = set()
    for case in cases:
        for step in (case, case['change']):
            for bucket in step.get('buckets', []):
                if isinstance(bucket, dict):
                    wanted.add((bucket['jurisdiction'], bucket['name']))
                else:
                    wanted.add((case.get('jurisdiction', 'default'), bucket))
    for jurisdiction, name in sorted(wanted):
        cf.create_bucket(name, jurisdiction)


def matrix_groups():
    """matrix() in short runs: one per owner and scope (account-wide, or one jurisdiction).

    One ansible-playbook run of the whole matrix at -vvvv took 260 s on an idle 2-core machine
    (~15 s a case) and over 600 s on a busy one; a group of at most three cases takes under a
    minute idle, about 70 s busy, and xdist spreads the groups over its workers.
    """
    groups = {}
    for case in matrix():
        groups.setdefault('%s-%s' % (case['owner'], case.get('jurisdiction', 'account-wide')), []).append(case)
    return groups


MATRIX_GROUPS = matrix_groups()
# The nominal time of one matrix run on an idle machine, with room to spare: ansible-playbook's
# start, then each case (~15 s at -vvvv when measured).  The harness scales it by
# R2_TEST_TIMEOUT_FACTOR and the load average and caps it by the test's pytest-timeout.
MATRIX_RUN_START = 60
MATRIX_CASE_SECONDS = 60
MATRIX_GROUP_MAX = 4


def test_matrix_groups_split_the_matrix():
    """Every case is run, once; both owners (so both token paths through Prism) are covered."""
    flat = [case for cases in MATRIX_GROUPS.values() for case in cases]
    key = functools.partial(json.dumps, sort_keys=True)
    assert sorted(map(key, flat)) == sorted(map(key, matrix()))
    assert len(flat) == len(matrix()) == 19
    assert all(len({c['owner'] for c in cases}) == 1 for cases in MATRIX_GROUPS.values())
    assert {cases[0]['owner'] for cases in MATRIX_GROUPS.values()} == {'account', 'user'}
    assert all(1 <= len(cases) <= MATRIX_GROUP_MAX for cases in MATRIX_GROUPS.values())
    # token names (lifecycle.yml) stay unique within a run
    names = ['%s-%s-%s' % (c['owner'], c['permission'], c.get('jurisdiction', 'all')) for c in flat]
    assert len(set(names)) == len(names)


# Prism paths of the token collections: a group of one owner must have used its owner's.
TOKEN_PATHS = {'user': re.compile(r'/user/tokens$'), 'account': re.compile(r'/accounts/\w+/tokens$')}


@pytest.mark.parametrize('group', sorted(MATRIX_GROUPS))
def test_lifecycle_matrix_at_vvvv_leaks_nothing(cf, run_playbook, tmp_path, group):
    """The full sequence for every case of the group, run at -vvvv, with the output scanned for every secret it made."""
    secrets_file = tmp_path / 'secrets.json'
    cases = MATRIX_GROUPS[group]
    create_case_buckets(cf, cases)
    result = run_playbook('token_matrix.yml', extra_vars={'cases': cases, 'secrets_file': str(secrets_file)},
                          verbosity=4, timeout=MATRIX_RUN_START + MATRIX_CASE_SECONDS * len(cases))
    assert result.rc == 0, result.describe()[-6000:]
    assert result.failed == 0
    secrets = read_secrets(secrets_file)
    assert len(secrets) == 4 * len(cases)  # value + secret, at create and at rotate
    assert_no_secrets(result.output, secrets + [cf.bootstrap_token])
    # Every case cleaned up after itself: only the bootstrap token is left.
    assert [t['name'] for t in cf.tokens()] == ['emulator bootstrap']
    # The run went through Prism; conftest checks the violations, this checks it was used
    # (test_matrix_groups_split_the_matrix: the groups cover both owners, so both paths).
    paths = {e['path'] for e in cf.exchanges()}
    for owner in {case['owner'] for case in cases}:
        assert any(TOKEN_PATHS[owner].search(p) for p in paths), (owner, sorted(paths))


def test_request_budget_per_run(cf, run_playbook, tmp_path):
    """What each kind of run costs in API requests (reported in the README)."""
    budget_file = tmp_path / 'budget.json'
    cf.create_bucket('budget-a')
    cf.create_bucket('budget-b')
    result = run_playbook('token_budget.yml', extra_vars={'budget_file': str(budget_file)})
    assert result.rc == 0, result.describe()[-4000:]
    counts = json.loads(budget_file.read_text())
    # One listing (T/50 pages; T < 50 here), one bucket listing per jurisdiction on writes that
    # set buckets, one permission-group lookup, one write.
    assert counts == {'create': 4, 'no_change': 1, 'update': 4, 'rotate': 2, 'delete': 2}, counts


def test_bad_input_fails_clearly_without_writes(cf, run_playbook):
    policies = r2_policies(cf.account_id, 'object_read_only')
    dup_a = cf.seed_token(owner='account', name='dup-name', policies=policies)
    dup_b = cf.seed_token(owner='account', name='dup-name', policies=policies)
    user_tokens = len([t for t in cf.tokens() if t['owner'] == 'user'])
    for index in range(50 - user_tokens):
        cf.seed_token(owner='user', name='filler-%02d' % index, policies=policies)
    cf.reset_stats()
    before = sorted((t['id'], t['name']) for t in cf.tokens())
    result = run_playbook('bad_input.yml', extra_vars={'dup_ids': [dup_a['id'], dup_b['id']],
                                                       'cf_direct_api_url': cf.direct_api_url}, verbosity=2)
    assert result.rc == 0, result.describe()[-6000:]
    assert_no_secrets(result.output, [cf.bootstrap_token, dup_a['value'], dup_b['value']])
    writes = [r for r in cf.stats()['requests'] if r['method'] in ('POST', 'PUT', 'DELETE', 'PATCH')]
    # The only write is the one Cloudflare itself refuses for the quota; every other case stopped before the API.
    assert [(w['method'], w['route'], w['status']) for w in writes] == [('POST', 'POST /user/tokens', 400)]
    assert sorted((t['id'], t['name']) for t in cf.tokens()) == before


FAULTS = [
    # Listing: rate limited once (retry-after honoured), then a 503, then a GET that hangs past the timeout.
    {'route': 'GET /accounts/{account_id}/tokens', 'action': '429', 'retry_after': 1, 'times': 1},
    {'route': 'GET /accounts/{account_id}/tokens', 'action': '503', 'times': 1},
    {'route': 'GET /accounts/{account_id}/tokens', 'action': 'timeout', 'delay': 4, 'times': 1},
    # The create is applied, but its answer arrives after the client gave up.
    {'route': 'POST /accounts/{account_id}/tokens', 'action': 'timeout', 'delay': 4, 'process': True, 'times': 1},
]


def run_fault_playbook(cf, run_playbook, tmp_path, faults):
    """Fault runs use the emulator directly: the official schema documents only 200 and 4XX
    answers, so injected 5xx, resets and hangs are transport faults that Prism would flag."""
    cf.create_bucket('fault-bucket')
    cf.add_faults(faults)
    secrets_file = tmp_path / 'secrets.json'
    result = run_playbook('faults.yml', extra_vars={'secrets_file': str(secrets_file)}, direct=True, verbosity=1)
    assert result.rc == 0, result.describe()[-6000:]
    assert_no_secrets(result.output, read_secrets(secrets_file) + [cf.bootstrap_token])
    named = [t for t in cf.tokens() if t['name'] == 'fault-tolerant']
    assert len(named) == 1, named
    return cf.stats()


def test_faults_converge_to_exactly_one_working_token(cf, run_playbook, tmp_path):
    stats = run_fault_playbook(cf, run_playbook, tmp_path, FAULTS)
    fired = [r['fault'] for r in stats['requests'] if r.get('fault')]
    assert sorted(fired) == ['429', '503', 'timeout', 'timeout'], fired
    posts = [r for r in stats['requests'] if r['route'] == 'POST /accounts/{account_id}/tokens']
    assert len(posts) == 1  # never resent blindly; the created token was found and its value rolled
    assert any(r['route'] == 'PUT /accounts/{account_id}/tokens/{token_id}/value' for r in stats['requests'])


def test_reset_and_malformed_answers_converge(cf, run_playbook, tmp_path):
    stats = run_fault_playbook(cf, run_playbook, tmp_path, [
        {'route': 'GET /accounts/{account_id}/tokens', 'action': 'reset', 'times': 1},
        {'route': 'GET /accounts/{account_id}/tokens/permission_groups', 'action': 'malformed', 'times': 1},
        {'route': 'POST /accounts/{account_id}/tokens', 'action': '502', 'times': 1},
    ])
    assert sorted(r['fault'] for r in stats['requests'] if r.get('fault')) == ['502', 'malformed', 'reset']


def test_rate_limit_exhaustion_fails_with_a_clear_message(cf, run_playbook):
    cf.configure(rate_limit=3, rate_window=300, rate_block=300)
    try:
        result = run_playbook('info.yml', extra_vars={'expect_failure': True})
    finally:
        cf.configure(rate_limit=1200, rate_window=300, rate_block=300)
    assert result.rc == 0, result.describe()[-4000:]
    assert [r['status'] for r in cf.stats()['requests']][-1] == 429


def test_missing_permission_and_unknown_token_are_named(cf, run_playbook):
    limited = cf.seed_token(owner='account', name='r2-reader-only',
                            policies=r2_policies(cf.account_id, 'admin_read_only'))
    unknown = 'cfut_' + 'Hq4Lz8Xw2Nc6Vb0Mk3Js7Gd1Fa5Pe9Ry' + 'Tu2Io4Wq' + 'a1b2c3d4'
    cf.reset_stats()
    result = run_playbook('auth_errors.yml', env={'LIMITED_TOKEN': limited['value'], 'UNKNOWN_TOKEN': unknown},
                          verbosity=3)
    assert result.rc == 0, result.describe()[-4000:]
    assert_no_secrets(result.output, [limited['value'], unknown, cf.bootstrap_token])
    assert cf.stats()['writes'] == 0


def test_info_module_decodes_tokens(cf, run_playbook):
    cf.seed_token(owner='account', name='app-reader',
                  policies=r2_policies(cf.account_id, 'object_read_only', [('eu', 'photos')]))
    result = run_playbook('info.yml', check=True)
    assert result.rc == 0, result.describe()[-4000:]
    assert result.changed == 0
