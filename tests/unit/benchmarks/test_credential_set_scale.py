# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pure parts of benchmarks/credential_set_scale.py: the entries it hands r2_credential_set, what a holder
reports back between its runs (never a secret: the bench_held filter), its checks and its leak scan. The runs
themselves are the benchmark's (not timed tests)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import importlib.util
import os
import secrets

import pytest

BENCH = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'benchmarks')


def load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def bench():
    return load('credential_set_scale', os.path.join(BENCH, 'credential_set_scale.py'))


@pytest.fixture(scope='module')
def held_filter():
    return load('bench_held', os.path.join(BENCH, 'filter_plugins', 'bench_held.py')).FilterModule().filters()[
        'r2_bench_held']


def test_shared_entries_one_credential_per_host_within_its_parents_bucket(bench):
    tokens, temporary = bench.shared_entries(25, 10)
    parents = dict((t['name'], t) for t in tokens)
    assert len(parents) == 10 and len(temporary) == 25
    assert len(set(t['name'] for t in temporary)) == 25
    assert set(t['prefixes'][0] for t in temporary) == set('host%04d/' % n for n in range(25))
    for entry in temporary:
        assert entry['bucket'] in parents[entry['parent']]['buckets'] and entry['held_access_key_id'] == ''
    tokens, temporary = bench.per_host_entries(7)
    assert len(set(t['name'] for t in tokens)) == 7 and temporary == []


def test_the_converged_run_reports_what_the_first_one_handed_out_and_no_secret(bench, held_filter):
    tokens, temporary = bench.shared_entries(3, 1)
    secret, session = secrets.token_hex(32), secrets.token_urlsafe(60)
    result = {'changed': True, 'summary': {'created': 1, 'minted': 3}, 'api_requests': {'total': 5},
              'failures': {}, 'credentials': {}}
    result['credentials'][tokens[0]['name']] = {'kind': 'token', 'action': 'created', 'access_key_id': 'p' * 32,
                                                'secret_access_key': secret, 'fingerprint': '',
                                                'token': {'name': tokens[0]['name']}}
    for number, entry in enumerate(temporary):
        result['credentials'][entry['name']] = {
            'kind': 'temporary', 'action': 'minted', 'access_key_id': '%032d' % number, 'secret_access_key': secret,
            'session_token': session, 'expiration': '2030-01-01T00:00:0%dZ' % number, 'fingerprint': 'f%d' % number}
    held = held_filter(result)
    assert secret not in repr(held) and session not in repr(held)
    assert held['summary'] == {'created': 1, 'minted': 3} and not held['failed']

    tokens2, temporary2 = bench.converged_entries(tokens, temporary, held['held'])
    assert tokens2 == tokens  # the shared parent has no holder: left as it is
    for number, entry in enumerate(temporary2):
        assert entry == dict(temporary[number], held_access_key_id='%032d' % number, held_fingerprint='f%d' % number,
                             held_expiration='2030-01-01T00:00:0%dZ' % number)
    per_host, dummy = bench.per_host_entries(1)
    held = {per_host[0]['name']: {'access_key_id': 'a' * 32, 'fingerprint': 'bench-host0000', 'expiration': None}}
    assert bench.converged_entries(per_host, [], held)[0][0]['held_access_key_id'] == 'a' * 32


def test_checks_floor_and_table(bench):
    row = {'scenario': 'shared', 'run': 'converged', 'tokens': 10, 'temporary': 5000, 'methods': {'GET': 1},
           'requests': 1, 'writes': 0, 'wall': 3.0, 'task_wall': 2.0, 'module_wall': 1.0, 'module_maxrss_kib': 2048,
           'playbook_maxrss_kib': None, 'emulator_cpu': 0.1, 'floor': bench.pacing_floor(1), 'projected': 3.0}
    held = {'failed': False, 'failures': {}, 'changed': False, 'summary': {'kept': 5000, 'unchanged': 10}}
    assert bench.check_run(row, held, {'converged': 10}) == []
    assert bench.check_run(dict(row, requests=2), held, {'converged': 10})  # over ceil(10/50)
    assert bench.check_run(row, dict(held, changed=True), {'converged': 10})
    assert bench.check_run(row, held, {'minted': 5000}) and not bench.check_run(
        row, dict(held, summary={'minted': 5000}), {'minted': 5000})
    assert bench.pacing_floor(5012) == 1253.0 and bench.converged_budget(481) == 10
    assert bench.by_method({'POST /accounts/{account_id}/r2/temp-access-credentials': 4, 'GET /user/tokens': 2,
                            '(no route)': 1}) == {'POST': 4, 'GET': 2, '(no route)': 1}
    table = bench.markdown_table([row]).splitlines()
    assert len(table) == 3 and '| shared | converged | 10 | 5000 | 1 | 0 | 0 | 0 | 1 | 0 | 3.0 | 2.0 | 1.0 | 2 | - |' in table[2]
    lines = [(0.5, 'PLAY [x] ***\n'), (1.0, 'TASK [Reconcile] ***\n'), (3.5, 'ok: [localhost]\n'),
             (4.0, 'TASK [Keep what the holders record (no secret)] ***\n'), (5.0, 'PLAY RECAP ***\n')]
    assert bench.task_time(lines, 'Reconcile') == 3.0 and bench.task_time(lines, 'Other') is None


def test_leak_scan_finds_a_secret_inside_any_run_of_characters(bench):
    value = 'cfat_' + secrets.token_hex(24)
    session = secrets.token_urlsafe(60)
    issued = [value, secrets.token_hex(32), session]
    assert bench.leaked(['{"id": "%s", "name": "x"}' % ('0' * 32)], issued) == 0
    assert bench.leaked(['prefix' + value + 'suffix', 'a=%s;' % session], issued) == 2
