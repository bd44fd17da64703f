"""Benchmark: API requests, writes and wall time of each kind of r2_token / r2_temp_credentials run.

    .venv/bin/python benchmarks/token_runs.py [--tokens N] [--repeat R]

Starts the emulator (direct, no Prism: this measures the collection, not the
contract proxy), optionally fills the account with N extra tokens so that the
listing cost (one request per 50 tokens) shows, then runs one playbook per
step and reads the emulator's request counter around it. Wall time includes
ansible-playbook's own start-up; the "noop" row is the same play shape with
ansible.builtin.debug instead of the module, as the baseline.
Not part of the timed tests.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'tests', 'integration'))

from harness import paths  # noqa: E402  pylint: disable=wrong-import-position
from harness.playbook import run_playbook  # noqa: E402  pylint: disable=wrong-import-position
from harness.stack import CloudflareStack  # noqa: E402  pylint: disable=wrong-import-position

TOKEN = {'name': 'bench-token', 'permission': 'object_read_write', 'buckets': ['bench-a']}
STEPS = [
    ('noop', 'ansible.builtin.debug', {'msg': 'baseline'}),
    ('create', 'cloudflare_r2.credentials.r2_token', TOKEN),
    ('no_change', 'cloudflare_r2.credentials.r2_token', TOKEN),
    ('update', 'cloudflare_r2.credentials.r2_token', dict(TOKEN, buckets=['bench-a', 'bench-b'])),
    ('rotate', 'cloudflare_r2.credentials.r2_token', dict(TOKEN, buckets=['bench-a', 'bench-b'], rotate=True)),
    ('temp_api', 'cloudflare_r2.credentials.r2_temp_credentials', {'bucket': 'bench-a'}),
    ('temp_local', 'cloudflare_r2.credentials.r2_temp_credentials',
     {'bucket': 'bench-a', 'signing': 'local', 'parent_access_key_id': 'f' * 32, 'parent_secret_access_key': 'e' * 64}),
    ('info', 'cloudflare_r2.credentials.r2_token_info', {'name_prefix': 'bench-'}),
    ('delete', 'cloudflare_r2.credentials.r2_token', {'name': 'bench-token', 'state': 'absent'}),
]


def play(module, args):
    return [{'name': 'bench', 'hosts': 'localhost', 'gather_facts': False,
             'module_defaults': {'group/cloudflare_r2.credentials.r2': {'api_url': '{{ cf_api_url }}'}},
             'tasks': [{'name': 'step', module: args, 'no_log': True}]}]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--tokens', type=int, default=0, help='extra tokens in the account (listing cost)')
    parser.add_argument('--repeat', type=int, default=3, help='runs of the no-change step for the median')
    options = parser.parse_args()
    collections = paths.collections_path()
    workdir = tempfile.mkdtemp(prefix='r2-bench-')
    stack = CloudflareStack(workdir=workdir).start()
    try:
        for name in ('bench-a', 'bench-b'):
            stack.create_bucket(name)
        if options.tokens:
            stack._admin('POST', '/tokens', {'owner': 'account', 'name': 'filler', 'count': options.tokens,
                                             'policies': []})
        rows = []
        for step, module, args in STEPS:
            runs = options.repeat if step in ('noop', 'no_change') else 1
            times, requests, writes = [], [], []
            for dummy in range(runs):
                playbook = os.path.join(workdir, step + '.yml')
                with open(playbook, 'w', encoding='utf-8') as handle:
                    json.dump(play(module, args), handle)
                before = stack.stats()
                start = time.monotonic()
                result = run_playbook(stack, playbook, collections_path=collections, direct=True)
                times.append(time.monotonic() - start)
                after = stack.stats()
                if result.rc != 0:
                    raise SystemExit('%s failed:\n%s' % (step, result.output[-3000:]))
                requests.append(after['total'] - before['total'])
                writes.append(after['writes'] - before['writes'])
            rows.append((step, requests[-1], writes[-1], statistics.median(times)))
        noop = rows[0][3]
        print('tokens in account: %d (+ bootstrap)' % options.tokens)
        print('%-11s %9s %7s %9s %9s' % ('step', 'requests', 'writes', 'wall s', 'x noop'))
        for step, requests, writes, wall in rows:
            print('%-11s %9d %7d %9.2f %9.2f' % (step, requests, writes, wall, wall / noop))
    finally:
        stack.stop()


if __name__ == '__main__':
    main()
