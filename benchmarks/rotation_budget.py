"""Benchmark: rotations under Cloudflare's real rate limit (1200 requests per 300 s per API token, then a five-minute
lockout), with the request pacer on: requests, writes, wall time, the pacer's waits, and the HTTP 429 answers the
emulator gave (must be 0: no lockout).

    .venv/bin/python benchmarks/rotation_budget.py [--shared-hosts 500] [--tokens 450] [--json PATH] [--keep]
                                                   [--rate-limit 1200 --rate-window 300]

Starts the emulator (its API used directly, no Prism: this measures the collection; its rate limit set to
Cloudflare's 1200 per 300 s with the 300 s lockout), and runs one ansible-playbook per module run, each one
r2_credential_set task on localhost with no_log and the module's default pacing (rate_limit 1200, rate_window 300:
it sends at most 1080 per 300 s, keeping 10% in reserve), like tests/integration/playbooks/pacer.yml. Only
non-secret fields of each result are kept (summary, request counts, api_pacing, warnings, and what a holder records:
key id, expiry, fingerprint, through the bench_held filter of benchmarks/filter_plugins); a leak scan checks the
run's files against every secret the emulator handed out.

    shared     one shared token (ansible:shared/bench-00, no holder) and --shared-hosts temporary credentials from
               it, one per host (prefix hostNNNN/). Setup: the first run mints them all. Measured: the rotation,
               the token with rotate: true (without a holder it is rolled in place) and the holders reporting
               what they hold, so that the roll mints again for every one of them.
    per-host   --tokens tokens, one per host, with holders. Setup: created. Then a run with Cloudflare's default
               quota (500, reserve 10) must refuse the rotation before any write (it needs 2 x tokens while the
               ~next tokens exist); the measured runs give the account (emulator and module) a quota of 2 x
               tokens + 100, as an Enterprise account may have. Measured: the two module runs of a gap-free
               rotation, run 1 rotate: true (NAME~next created for each), run 2 the holders reporting the ~next
               ids (old deleted, new renamed). Run 2 starts with a fresh pacer: only the emulator's Ratelimit
               header tells it what run 1 spent.

Setup runs go with the rate limit out of the way; the emulator's rate counters are then cleared, so each measured
rotation starts with the token's whole budget. Per measured run: requests by method, writes, wall time of the
task, the pacer's waits (api_pacing), HTTP 429 answers (emulator), and the pacing floor requests / (1080 / 300 s);
for the two-run rotation also the totals. Exits non-zero on a 429, on a run that does not do what it must, or on
a leak. Not a timed test: on a busy machine the request times vary, the pacing waits do not.

--rate-limit / --rate-window scale the limit down for a quick try (for example 60 per 20 s, the lockout as long as
the window): the emulator and the module get the same.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, '..', 'tests', 'integration'))

import bench_common  # noqa: E402  pylint: disable=wrong-import-position
import credential_set_scale as scale  # noqa: E402  pylint: disable=wrong-import-position
from harness import paths  # noqa: E402  pylint: disable=wrong-import-position
from harness.stack import CloudflareStack  # noqa: E402  pylint: disable=wrong-import-position

MODULE = 'cloudflare_r2.credentials.r2_credential_set'
REAL_LIMIT, REAL_WINDOW, REAL_BLOCK = 1200, 300, 300   # Cloudflare's budget per API token and its lockout (REF 6)
HEADROOM = 0.1   # the pacer's reserve (plugins/module_utils/_api.py RATE_HEADROOM)

DEFAULT_QUOTA, QUOTA_RESERVE = 500, 10


class Limits:  # pylint: disable=too-few-public-methods
    """The rate limit of a run: the emulator's and the module's (rate_limit per window seconds, lockout = window)."""

    def __init__(self, limit=REAL_LIMIT, window=REAL_WINDOW):
        self.limit, self.window = limit, window
        self.paced = limit - int(limit * HEADROOM)   # what the pacer sends per window: 1080 of 1200
        self.block = REAL_BLOCK if (limit, window) == (REAL_LIMIT, REAL_WINDOW) else window


REAL = Limits()


# --- entries (pure) ---------------------------------------------------------------------------------------
def shared_rotation(tokens, temporary, held):
    """The entries of the shared-mode rotation: the holders report what the setup run handed them, and the shared
    token (no holder) gets rotate: true, which rolls it in place."""
    tokens, temporary = scale.converged_entries(tokens, temporary, held)
    return [dict(entry, rotate=True) for entry in tokens], temporary


def rotation_start(tokens, held):
    """Run 1 of a gap-free rotation: every holder reports the token it holds, and rotate: true."""
    tokens, dummy = scale.converged_entries(tokens, [], held)
    return [dict(entry, rotate=True) for entry in tokens]


def rotation_finish(tokens, held):
    """Run 2: every holder reports the id it got from run 1 (the NAME~next token's), without rotate."""
    tokens, dummy = scale.converged_entries(tokens, [], held)
    return [dict((key, value) for key, value in entry.items() if key != 'rotate') for entry in tokens]


# --- numbers (pure) -----------------------------------------------------------------------------------------
def pacing_floor(requests, limits=REAL):
    """Seconds the requests need at least at the pacer's steady rate (1080 per 300 s: 3.6 per second)."""
    return requests * limits.window / float(limits.paced)


def least_burst(requests, limits=REAL):
    """Seconds a client that sends its budget at once and then waits for the window needs at least (the pacer's
    own way): one window per full budget before the last request."""
    return max(0, requests - 1) // limits.paced * limits.window


def statuses(requests):
    """{HTTP status: n} of the emulator's request log."""
    return dict(collections.Counter(entry['status'] for entry in requests))


def run_row(label, run, stats, done, limits=REAL):
    """One measured run: the emulator's counters (``stats``) and what the play wrote (``done``)."""
    methods = scale.by_method(stats['counts'])
    codes = statuses(stats['requests'])
    pacing = done.get('api_pacing') or {}
    return {'scenario': label, 'run': run, 'methods': methods, 'requests': stats['total'], 'writes': stats['writes'],
            'status_429': codes.get(429, 0), 'statuses': codes, 'wall': done['ended'] - done['started'],
            'waits': pacing.get('waits', 0), 'waited_seconds': pacing.get('waited_seconds', 0.0),
            'rate_limited': pacing.get('rate_limited', 0),
            'rate_limited_seconds': pacing.get('rate_limited_seconds', 0.0),
            'floor': pacing_floor(stats['total'], limits), 'least': least_burst(stats['total'], limits),
            'summary': done['held']['summary'], 'module_requests': done['held']['api_requests'].get('total'),
            'warnings': [w for w in done.get('warnings') or [] if 'rate limit' in w]}


def total_row(label, rows, limits=REAL):
    """The runs of one rotation together (one budget: the emulator's counters run on between them)."""
    methods = collections.Counter()
    codes = collections.Counter()
    for row in rows:
        methods.update(row['methods'])
        codes.update(row['statuses'])
    requests = sum(row['requests'] for row in rows)
    return {'scenario': label, 'run': 'total (%d runs)' % len(rows), 'methods': dict(methods), 'requests': requests,
            'writes': sum(row['writes'] for row in rows), 'status_429': codes.get(429, 0), 'statuses': dict(codes),
            'wall': rows[-1]['ended_at'] - rows[0]['started_at'],
            'waits': sum(row['waits'] for row in rows), 'waited_seconds': sum(row['waited_seconds'] for row in rows),
            'rate_limited': sum(row['rate_limited'] for row in rows),
            'rate_limited_seconds': sum(row['rate_limited_seconds'] for row in rows),
            'floor': pacing_floor(requests, limits), 'least': least_burst(requests, limits), 'summary': {},
            'warnings': []}


def methods_cell(methods):
    order = ('GET', 'POST', 'PUT', 'PATCH', 'DELETE')
    return ', '.join('%d %s' % (methods[m], m) for m in sorted(methods, key=lambda m: (order.index(m)
                                                                                       if m in order else 9, m)))


def markdown_table(rows):
    header = ('scenario', 'run', 'requests', 'by method', 'writes', 'wall s', 'pacer floor s (req / paced rate)',
              'least s (burst)', 'wall / floor', 'pacer waits', 'waited s', '429 waits (client)', 'HTTP 429 (emulator)')
    lines = ['| ' + ' | '.join(header) + ' |', '|' + ' --- |' * len(header)]
    for row in rows:
        cells = (row['scenario'], row['run'], '%d' % row['requests'], methods_cell(row['methods']), '%d' % row['writes'],
                 '%.1f' % row['wall'], '%.0f' % row['floor'], '%d' % row['least'], '%.2f' % (row['wall'] / row['floor'])
                 if row['floor'] else '-', '%d' % row['waits'], '%.1f' % row['waited_seconds'],
                 '%d' % row['rate_limited'], '%d' % row['status_429'])
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def check_summary(name, summary, expect):
    """Misses of a run whose summary must hold ``expect`` ({action: n}) and no failure."""
    misses = ['%s: %s %d, expected %d (summary %s)' % (name, action, summary.get(action, 0), count, summary)
              for action, count in sorted(expect.items()) if summary.get(action, 0) != count]
    if summary.get('failed'):
        misses.append('%s: %d entries failed (summary %s)' % (name, summary['failed'], summary))
    return misses


# --- runs ---------------------------------------------------------------------------------------------------
def write_play(path, stack, tokens, temporary, result_path, rate_limit=None, rate_window=None, token_quota=None):
    """One r2_credential_set task (no_log) between two timestamps, and a copy of its non-secret fields."""
    args = {'account_id': stack.account_id, 'api_url': stack.direct_api_url, 'tokens': tokens, 'temporary': temporary}
    if rate_limit is not None:
        args['rate_limit'] = rate_limit
    if rate_window is not None:
        args['rate_window'] = rate_window
    if token_quota is not None:
        args['token_quota'] = token_quota
    play = [{
        'name': 'rotation budget', 'hosts': 'localhost', 'gather_facts': False,
        'vars': {'ansible_python_interpreter': paths.venv_python()},
        'tasks': [
            {'name': 'Note the start', 'ansible.builtin.set_fact': {'bench_started': '{{ now().timestamp() }}'}},
            {'name': 'Reconcile', MODULE: args, 'no_log': True, 'register': 'bench_result', 'ignore_errors': True},
            {'name': 'Note the end', 'ansible.builtin.set_fact': {'bench_ended': '{{ now().timestamp() }}'}},
            {'name': 'Keep the non-secret fields', 'no_log': True, 'ansible.builtin.copy': {
                'dest': result_path, 'mode': '0600',
                'content': "{{ {'started': bench_started | float, 'ended': bench_ended | float, "
                           "'held': bench_result | r2_bench_held, "
                           "'api_pacing': bench_result.api_pacing | default({}), "
                           "'warnings': bench_result.warnings | default([])} | to_json }}"}},
        ]}]
    with open(path, 'w', encoding='utf-8') as handle:
        json.dump(play, handle)  # JSON is YAML


def module_run(stack, root, name, tokens, temporary, **options):
    """One ansible-playbook run of the module; returns (emulator stats of the run, what the play wrote)."""
    playbook = os.path.join(root, name + '.yml')
    result_path = os.path.join(root, name + '.result.json')
    write_play(playbook, stack, tokens, temporary, result_path, **options)
    bindir = paths.venv_bin()
    env = bench_common.playbook_env(stack, root, scale.QUIET)
    stack.reset_stats()
    start = time.monotonic()
    done = subprocess.run([os.path.join(bindir, 'ansible-playbook'), playbook], stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=root,
                          universal_newlines=True, errors='replace', check=False)
    with open(os.path.join(root, name + '.log'), 'w', encoding='utf-8') as log:
        log.write(done.stdout)
    if done.returncode != 0:
        raise SystemExit('%s: ansible-playbook failed (rc=%s):\n%s' % (name, done.returncode, done.stdout[-4000:]))
    stats = stack.stats()
    with open(result_path, encoding='utf-8') as handle:
        result = json.load(handle)
    print('  %-28s %6.1f s (playbook %.1f s)  %s  writes %d  summary %s  pacing %s' % (
        name, result['ended'] - result['started'], time.monotonic() - start, scale.by_method(stats['counts']),
        stats['writes'], result['held']['summary'], result['api_pacing']), flush=True)
    return stats, result


def set_limit(stack, limits):
    """The emulator's limit and lockout; clears its rate counters (a fresh budget for the token)."""
    settings = stack.configure(rate_limit=limits.limit, rate_window=limits.window, rate_block=limits.block)
    assert (settings['rate_limit'], settings['rate_window'], settings['rate_block']) == (
        limits.limit, limits.window, limits.block), settings


def paced(limits):
    """The module's pacing options: none (its defaults, Cloudflare's) for the real limit."""
    return {} if limits is REAL else {'rate_limit': limits.limit, 'rate_window': limits.window}


def fresh_account(stack):
    stack.reset()
    stack.configure(rate_limit=10 ** 9)   # setup runs: the emulator's limit out of the way
    for bucket in scale.BUCKETS:
        stack.create_bucket(bucket)


def measured(label, run, stats, done, misses, expect, limits):
    row = run_row(label, run, stats, done, limits)
    row['started_at'], row['ended_at'] = done['started'], done['ended']
    misses += check_summary('%s %s' % (label, run), row['summary'], expect)
    if row['status_429']:
        shown = [r for r in stats['requests'] if r['status'] == 429][:5]
        misses.append('%s %s: %d HTTP 429 answers from the emulator (a lockout), first %s; the client waited out '
                      '%d (%.0f s): %s' % (label, run, row['status_429'], shown, row['rate_limited'],
                                           row['rate_limited_seconds'], row['warnings'][:3]))
    if row['module_requests'] != row['requests']:
        misses.append('%s %s: the module counted %s requests, the emulator %d' % (label, run, row['module_requests'],
                                                                                  row['requests']))
    return row


def shared_scenario(stack, top, hosts, limits):
    fresh_account(stack)
    root = tempfile.mkdtemp(prefix='shared-', dir=top)
    tokens, temporary = scale.shared_entries(hosts, 1)
    misses = []
    dummy, setup = module_run(stack, root, 'shared setup (mint all)', tokens, temporary, rate_limit=0)
    misses += check_summary('shared setup', setup['held']['summary'], {'created': 1, 'minted': hosts})
    tokens, temporary = shared_rotation(tokens, temporary, setup['held']['held'])
    set_limit(stack, limits)
    stats, done = module_run(stack, root, 'shared rotation (roll + re-mint)', tokens, temporary, **paced(limits))
    row = measured('shared, %d holders' % hosts, 'roll + re-mint all', stats, done, misses,
                   {'rolled': 1, 'minted': hosts}, limits)
    return [row], misses, root


def per_host_scenario(stack, top, count, limits):
    fresh_account(stack)
    root = tempfile.mkdtemp(prefix='per-host-', dir=top)
    tokens, dummy = scale.per_host_entries(count)
    misses = []
    quota = 2 * count + 100
    stack.configure(token_quota_account=quota)
    dummy, setup = module_run(stack, root, 'per-host setup (create)', tokens, [], rate_limit=0, token_quota=quota)
    misses += check_summary('per-host setup', setup['held']['summary'], {'created': count})
    started = rotation_start(tokens, setup['held']['held'])
    refusal = None
    if 2 * count > DEFAULT_QUOTA - QUOTA_RESERVE:
        # Cloudflare's default quota: the rotation needs 2 x count tokens while the ~next ones exist
        stats, refused = module_run(stack, root, 'per-host rotation, quota 500', started, [], rate_limit=0)
        message = refused['held'].get('msg') or ''
        refusal = {'needed': 2 * count, 'quota': DEFAULT_QUOTA, 'reserve': QUOTA_RESERVE,
                   'refused': refused['held']['failed'] and 'token_quota' in message, 'writes': stats['writes'],
                   'requests': stats['total'], 'message': message}
        if not (refusal['refused'] and not stats['writes']):
            misses.append('per-host: a rotation needing %d tokens under the quota of %d was not refused before any '
                          'write: %s' % (2 * count, DEFAULT_QUOTA, refusal))
    set_limit(stack, limits)
    label = 'per-host, %d tokens' % count
    stats, first = module_run(stack, root, 'per-host rotation run 1', started, [], token_quota=quota, **paced(limits))
    rows = [measured(label, 'run 1: rotate (create ~next)', stats, first, misses, {'rotation_started': count},
                     limits)]
    finish = rotation_finish(tokens, first['held']['held'])
    stats, second = module_run(stack, root, 'per-host rotation run 2', finish, [], token_quota=quota, **paced(limits))
    rows.append(measured(label, 'run 2: finish (delete, rename)', stats, second, misses,
                         {'rotation_finished': count}, limits))
    rows.append(total_row(label, rows, limits))
    names = collections.Counter(t['name'] for t in stack.tokens() if t['owner'] == 'account')
    if len(names) != count or any(n > 1 or name.endswith('~next') for name, n in names.items()):
        misses.append('per-host: after the rotation the account holds %d token names (%d tokens), expected %d '
                      'without ~next' % (len(names), sum(names.values()), count))
    return rows, misses, root, refusal


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--shared-hosts', type=int, default=500, help='holders of the shared token (0 to skip)')
    parser.add_argument('--tokens', type=int, default=450, help='per-host tokens to rotate (0 to skip)')
    parser.add_argument('--json', metavar='PATH', help='also write every number here')
    parser.add_argument('--keep', action='store_true', help='keep the temporary folder (playbooks, run logs)')
    parser.add_argument('--rate-limit', type=int, default=REAL_LIMIT, help='requests per window (default 1200)')
    parser.add_argument('--rate-window', type=int, default=REAL_WINDOW, help='window seconds (default 300)')
    options = parser.parse_args()
    if options.rate_limit < 10 or options.rate_window < 1:
        parser.error('--rate-limit must be 10 or more, --rate-window 1 s or more')
    limits = REAL if (options.rate_limit, options.rate_window) == (REAL_LIMIT, REAL_WINDOW) else Limits(
        options.rate_limit, options.rate_window)
    paths.collections_path()  # stage once
    top = tempfile.mkdtemp(prefix='r2-rotation-bench-')
    load = os.getloadavg()
    print('load average %.2f %.2f %.2f, %d cpus' % (load + (os.cpu_count(),)), flush=True)
    stack = CloudflareStack(workdir=os.path.join(top, 'stack')).start()
    rows, misses, refusal = [], [], None
    try:
        for enabled, scenario in ((options.shared_hosts,
                                   lambda: shared_scenario(stack, top, options.shared_hosts, limits)),
                                  (options.tokens, lambda: per_host_scenario(stack, top, options.tokens, limits))):
            if not enabled:
                continue
            found = scenario()
            rows += found[0]
            misses += found[1]
            if len(found) > 3:
                refusal = found[3]
            issued = stack.issued_secrets()
            leaks = scale.leaked(scale.folder_texts(found[2]), issued)
            if leaks or not issued:
                misses.append('%s: %d of the %d secrets handed out are in the run\'s files'
                              % (found[2], leaks, len(issued)))
    finally:
        stack.stop()
        if options.keep:
            print('kept ' + top)
        else:
            shutil.rmtree(top, ignore_errors=True)
    end_load = os.getloadavg()
    print()
    print(markdown_table(rows))
    print()
    print('limit %d per %d s (lockout %d s); the pacer sends %d per window. pacer floor: requests / (%d per %d s); '
          'least: (requests - 1) // %d x %d s, what a client sending its budget at once needs; pacer waits: '
          'api_pacing.waits (its own spacing and the Ratelimit header); HTTP 429: answers of the emulator'
          % (limits.limit, limits.window, limits.block, limits.paced, limits.paced, limits.window, limits.paced,
             limits.window))
    if refusal:
        print('quota 500: rotation needing %(needed)d tokens refused=%(refused)s, writes %(writes)d, requests '
              '%(requests)d' % refusal)
        print('  ' + refusal['message'])
    print('load average at the end %.2f %.2f %.2f' % end_load)
    for miss in misses:
        print('FAIL: ' + miss)
    if options.json:
        summary = {'load': [round(x, 2) for x in load], 'load_end': [round(x, 2) for x in end_load],
                   'rate_limit': limits.limit, 'rate_window': limits.window, 'rate_block': limits.block,
                   'shared_hosts': options.shared_hosts, 'tokens': options.tokens, 'ok': not misses,
                   'failures': misses, 'quota_refusal': refusal,
                   'runs': [bench_common.rounded(row, ('wall', 'floor', 'waited_seconds', 'rate_limited_seconds'))
                            for row in rows]}
        bench_common.write_summary(options.json, summary)
    if misses:
        sys.exit(1)


if __name__ == '__main__':
    main()
