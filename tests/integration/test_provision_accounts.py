"""Hosts of two Cloudflare accounts in one provision run: one reconcile covers both, with one token listing each
and each account's own API token; a converged run (shared-mode hosts included) makes ceil(T/50) requests per
account; and a run that would take one account over its quota writes nothing in either.

The second account is a second emulator (with its own Prism, its own S3 gateway and its own API token), named in
the inventory the way a user names one: a group per account with provision_account_id, provision_api_url,
provision_api_token and the S3 endpoints.
"""

from __future__ import annotations

import os

import pytest
import yaml

from harness import paths
from harness.stack import CloudflareStack
from test_provision import writes

LISTING = ('GET', 'GET /accounts/{account_id}/tokens')


@pytest.fixture(scope='module')
def other(cf):  # pylint: disable=unused-argument
    """The second account: a Cloudflare stack of its own."""
    workdir = os.path.join(paths.output_dir(), 'second-account-%s' % os.environ.get('PYTEST_XDIST_WORKER', 'main'))
    os.makedirs(workdir, exist_ok=True)
    stack = CloudflareStack(workdir=workdir).start()
    try:
        yield stack
    finally:
        violations = stack.contract_violations()
        stack.stop()
        assert not violations, stack.format_violations(violations)


def group(stack, hosts, tmp_path, shared, **extra):
    """An inventory group of one account: its hosts render under tmp_path/render/HOST."""
    variables = {'provision_account_id': stack.account_id, 'provision_api_url': stack.api_url,
                 'provision_endpoint_overrides': stack.s3_endpoints, 'provision_shared_tokens': shared}
    variables.update(extra)
    return {'hosts': dict((h, dict(v, provision_render_root=str(tmp_path / 'render' / h))) for h, v in hosts.items()),
            'vars': variables}


def inventory(tmp_path, cf, other, hosts_a, hosts_b, **b_vars):
    data = {'r2_clients': {
        'vars': {'ansible_connection': 'local', 'ansible_python_interpreter': paths.venv_python(),
                 'provision_user': 'root', 'provision_check_retries': 0, 'provision_token_quota_reserve': 0},
        'children': {
            'account_a': group(cf, hosts_a, tmp_path, {'a-readers': {'permission': 'object_read_only',
                                                                     'buckets': ['fleet-a']}}),
            'account_b': group(other, hosts_b, tmp_path, {'b-writers': {'permission': 'object_read_write',
                                                                        'buckets': ['fleet-b']}},
                               provision_api_token=other.bootstrap_token, **b_vars),
        }}}
    path = tmp_path / 'inventory.yml'
    path.write_text(yaml.safe_dump(data))
    return ['-i', str(path)]


def token_cred(bucket):
    return {'name': 'media', 'permission': 'object_read_only', 'buckets': [bucket]}


def shared_cred(name, bucket):
    return {'name': 'upload', 'shared': name, 'bucket': bucket, 'prefixes': ['{host}/']}


def managed(stack):
    return sorted(t['name'] for t in stack.tokens() if t['owner'] == 'account' and t['name'].startswith('ansible:'))


def test_two_accounts_in_one_run_one_listing_each_and_a_quota_failure_in_one_stops_every_write(
        cf, other, run_playbook, tmp_path):
    other.reset()
    cf.create_bucket('fleet-a')
    other.create_bucket('fleet-b')
    hosts_a = {'a1': {'provision_credentials': [token_cred('fleet-a'), shared_cred('a-readers', 'fleet-a')]},
               'a2': {'provision_credentials': [token_cred('fleet-a')]}}
    hosts_b = {'b1': {'provision_credentials': [token_cred('fleet-b'), shared_cred('b-writers', 'fleet-b')]},
               'b2': {'provision_credentials': [shared_cred('b-writers', 'fleet-b')]}}
    args = inventory(tmp_path, cf, other, hosts_a, hosts_b)
    first = run_playbook('provision_fleet', args=args)
    assert first.rc == 0, first.output[-3000:]
    assert managed(cf) == ['ansible:a1/media', 'ansible:a2/media', 'ansible:shared/a-readers']
    assert managed(other) == ['ansible:b1/media', 'ansible:shared/b-writers']
    for stack in (cf, other):
        listings = [(r['method'], r['route']) for r in stack.stats()['requests']].count(LISTING)
        # one listing to plan, one after the creates (a concurrent run's twin is looked for)
        assert listings == 2, stack.stats()['requests']
    # each account's calls were authorised by its own API token
    assert set(r['token_id'] for r in other.stats()['requests']) == set(
        t['id'] for t in other.tokens() if not t['name'].startswith('ansible:'))
    assert '"4 host(s): created 5, minted 3;' in first.output, first.output[-3000:]

    for stack in (cf, other):
        stack.reset_stats()
    converged = run_playbook('provision_fleet', args=args)
    assert converged.rc == 0 and converged.changed == 0, converged.output[-3000:]
    for stack in (cf, other):
        assert [(r['method'], r['route']) for r in stack.stats()['requests']] == [LISTING]

    # Account b may hold no more tokens than it holds now (its inventory says so, as Cloudflare does), and b3 needs
    # one more. Account a has room, and a3 needs a token too: nothing is written in either account.
    held = len([t for t in other.tokens() if t['owner'] == 'account'])
    other.configure(token_quota_account=held)
    hosts_a['a3'] = {'provision_credentials': [token_cred('fleet-a')]}
    hosts_b['b3'] = {'provision_credentials': [token_cred('fleet-b')]}
    for stack in (cf, other):
        stack.reset_stats()
    refused = run_playbook('provision_fleet', args=inventory(tmp_path, cf, other, hosts_a, hosts_b,
                                                             provision_token_quota=held))
    assert refused.rc != 0
    assert 'token_quota: account %s: this run needs %d tokens (%d now, 1 to create, 0 to delete)' % (
        other.account_id, held + 1, held) in refused.output, refused.output[-3000:]
    assert 'Nothing was changed in any account.' in refused.output
    assert writes(cf) == [] and writes(other) == []
    assert managed(cf) == ['ansible:a1/media', 'ansible:a2/media', 'ansible:shared/a-readers']
