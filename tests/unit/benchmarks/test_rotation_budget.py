# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pure parts of benchmarks/rotation_budget.py (the entries of each rotation run, the pacing floors, the rows and
their checks) and of the shared mode of benchmarks/provision_runs.py (its runs, host variables, request cells). The
runs themselves are the benchmarks' (not timed tests)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import importlib.util
import os

import pytest

BENCH = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'benchmarks')


def load(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(BENCH, name + '.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def bench():
    return load('rotation_budget')


@pytest.fixture(scope='module')
def fleet():
    return load('provision_runs')


def test_the_shared_rotation_rolls_the_token_and_every_holder_reports_what_it_holds(bench):
    tokens, temporary = bench.scale.shared_entries(3, 1)
    held = dict((entry['name'], {'access_key_id': '%032d' % n, 'fingerprint': 'f%d' % n,
                                 'expiration': '2030-01-01T00:00:0%dZ' % n}) for n, entry in enumerate(temporary))
    tokens2, temporary2 = bench.shared_rotation(tokens, temporary, held)
    assert tokens2 == [dict(tokens[0], rotate=True)]   # no holder: rolled in place
    assert [(t['held_access_key_id'], t['held_expiration']) for t in temporary2] == [
        ('%032d' % n, '2030-01-01T00:00:0%dZ' % n) for n in range(3)]


def test_the_two_runs_of_a_gap_free_rotation(bench):
    tokens, dummy = bench.scale.per_host_entries(2)
    created = dict((t['name'], {'access_key_id': 'a%031d' % n, 'fingerprint': 'p%d' % n, 'expiration': None})
                   for n, t in enumerate(tokens))
    started = bench.rotation_start(tokens, created)
    assert [(t['rotate'], t['held_access_key_id'], t['held_fingerprint']) for t in started] == [
        (True, 'a%031d' % n, 'p%d' % n) for n in range(2)]
    nexts = dict((name, dict(got, access_key_id='b' + got['access_key_id'][1:])) for name, got in created.items())
    finish = bench.rotation_finish(started, nexts)
    assert all('rotate' not in t for t in finish)
    assert [t['held_access_key_id'] for t in finish] == ['b%031d' % n for n in range(2)]


def test_floors_rows_and_the_table(bench):
    real = bench.REAL
    assert (real.limit, real.window, real.paced, real.block) == (1200, 300, 1080, 300)
    assert bench.pacing_floor(1080) == 300.0 and bench.pacing_floor(1370) == pytest.approx(380.6, abs=0.1)
    assert [bench.least_burst(n) for n in (1, 1080, 1081, 2161)] == [0, 0, 300, 600]
    small = bench.Limits(20, 10)
    assert (small.paced, small.block) == (18, 10) and bench.least_burst(19, small) == 10
    stats = {'counts': {'GET /accounts/{account_id}/tokens': 2, 'DELETE /accounts/{account_id}/tokens/{token_id}': 3},
             'total': 5, 'writes': 3, 'requests': [{'status': 200}] * 4 + [{'status': 429}]}
    done = {'started': 10.0, 'ended': 12.5, 'api_pacing': {'waits': 1, 'waited_seconds': 1.5, 'rate_limited': 1,
                                                           'rate_limited_seconds': 3.0},
            'warnings': ['cloudflare: rate limited on GET /x (HTTP 429); waiting 3s', 'other'],
            'held': {'summary': {'rotation_finished': 3}, 'api_requests': {'total': 5}}}
    row = bench.run_row('per-host', 'run 2', stats, done)
    assert (row['methods'], row['status_429'], row['wall'], row['waits'], row['rate_limited']) == (
        {'GET': 2, 'DELETE': 3}, 1, 2.5, 1, 1)
    assert row['warnings'] == [done['warnings'][0]]
    assert bench.check_summary('x', row['summary'], {'rotation_finished': 3}) == []
    assert bench.check_summary('x', row['summary'], {'rotation_finished': 4})
    assert bench.check_summary('x', {'rotation_finished': 3, 'failed': 1}, {'rotation_finished': 3})
    first = dict(row, started_at=10.0, ended_at=12.5)
    second = dict(row, started_at=13.0, ended_at=20.0)
    total = bench.total_row('per-host', [first, second])
    assert (total['requests'], total['writes'], total['wall'], total['status_429'], total['methods']) == (
        10, 6, 10.0, 2, {'GET': 4, 'DELETE': 6})
    table = bench.markdown_table([row, total]).splitlines()
    assert len(table) == 4
    assert table[2].startswith('| per-host | run 2 | 5 | 2 GET, 3 DELETE | 3 | 2.5 | 1 | 0 | 1.80 | 1 | 1.5 | 1 | 1 |')


def test_the_shared_mode_of_the_fleet_benchmark(fleet):
    assert fleet.pick_runs('per-host') == ['baseline', 'floor1', 'floor3', 'first', 'converged', 'free']
    assert fleet.pick_runs('shared') == ['baseline', 'floor1', 'floor3', 'first', 'converged', 'renewal']
    # a picked run brings its floor and the first run it follows
    assert fleet.pick_runs('shared', ['renewal']) == ['floor3', 'first', 'renewal']
    assert fleet.pick_runs('shared', ['converged']) == ['floor1', 'floor3', 'first', 'converged']
    with pytest.raises(ValueError, match='only with --mode shared'):
        fleet.pick_runs('per-host', ['renewal'])
    with pytest.raises(ValueError, match='unknown run'):
        fleet.pick_runs('shared', ['fast'])
    shared = fleet.shared_tokens(5)
    assert sorted(shared) == ['bench-%02d' % n for n in range(5)]
    for index in range(1, 11):
        host = fleet.shared_host_vars(index, '/r', 5)
        credential, = host['provision_credentials']
        parent = shared[credential['shared']]
        assert credential['shared'] == 'bench-%02d' % (index % 5) and credential['bucket'] in parent['buckets']
        assert credential['prefixes'] == ['{host}/'] and 'check' not in credential   # the S3 check as by default
    assert fleet.requests_cell({'POST': 240, 'GET': 7}) == '247 (7 GET, 240 POST)'
    assert fleet.requests_cell({'GET': 3}) == '3 GET' and fleet.requests_cell({}) == '0'
