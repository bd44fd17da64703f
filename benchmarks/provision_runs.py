"""Benchmark: the provision playbook on N local hosts: API requests, writes and wall time per run.

    .venv/bin/python benchmarks/provision_runs.py [--hosts 10,50,200] [--extra-tokens 100] [--forks 50]

Starts the emulator and, for each N, generates an inventory of N hosts (bench-001...; local connection,
files rendered under a temporary render root, so no unix users are needed; one token credential each,
permissions alternating, buckets in the default/eu/fedramp jurisdictions in turn, and every 5th host also
temporary credentials minted from its token). The account also holds --extra-tokens other tokens, so the
token listing takes several pages. The API goes to the emulator directly (no Prism: this measures the
collection), the renders' S3 checks to the emulator's S3 endpoints. Runs, for each N, on a fresh account:

    baseline   the same three plays with as many tasks per phase as the role's converged path, each one
               ansible.builtin.set_fact or ansible.builtin.debug (verbosity 1): the cost of Ansible itself
    first      ansible-playbook -i INV cloudflare_r2.credentials.provision --forks F
    converged  the same again: must change nothing and make at most ceil(T/50)+2 API requests
               (T = account tokens), else the script exits non-zero
    free       the same with ANSIBLE_STRATEGY=free: nothing changed, the same requests, no token name twice

Wall time includes ansible-playbook's start-up. The load average is printed: other work on the machine
(a molecule scenario, ...) makes the times noisy. Not part of the timed tests.
"""

from __future__ import annotations

import argparse
import collections
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'tests', 'integration'))

from harness import paths  # noqa: E402  pylint: disable=wrong-import-position
from harness.playbook import PlaybookResult  # noqa: E402  pylint: disable=wrong-import-position
from harness.stack import CloudflareStack  # noqa: E402  pylint: disable=wrong-import-position

JURISDICTIONS = ('default', 'eu', 'fedramp')
BUCKETS = {'default': 'bench-default', 'eu': 'bench-eu', 'fedramp': 'bench-fedramp'}
METHODS = ('GET', 'POST', 'PUT', 'DELETE')
HOSTS = "{{ provision_target | default('r2_clients') }}"

# Tasks that run (ok) on the role's converged path, per phase, each phase starting with the argument spec
# check of include_role: inspect: arg spec, settings, check, plan, r2_profile_info, entries (getent and the
# users check are skipped with a render root); reconcile: arg spec, collect, r2_credential_set, keep the result,
# report; render: arg spec, assert, what to write (trial, folders, writes, removals, checks: skipped, nothing
# to do). A converged host's recap is ok=11 in both playbooks (the role's also has skipped=8).
PHASE_TASKS = {'inspect': 6, 'reconcile': 5, 'render': 3}


def host_vars(index, render_root):
    jurisdiction = JURISDICTIONS[index % 3]
    token = {'name': 'data', 'permission': ('object_read_only', 'object_read_write')[index % 2],
             'jurisdiction': jurisdiction, 'buckets': [BUCKETS[jurisdiction]]}
    credentials = [token]
    if index % 5 == 0:
        credentials.append({'name': 'upload', 'type': 'temporary', 'parent': 'data', 'jurisdiction': jurisdiction,
                            'bucket': BUCKETS[jurisdiction], 'permission': 'object_read_only',
                            'ttl_seconds': 3600})
    return {'ansible_connection': 'local', 'ansible_python_interpreter': paths.venv_python(),
            'provision_user': 'root', 'provision_render_root': render_root,
            'provision_credentials': credentials}


def write_inventory(root, count, stack):
    """root/inventory/{hosts.yml,group_vars/r2_clients.yml}; returns the inventory folder."""
    inventory = os.path.join(root, 'inventory')
    os.makedirs(os.path.join(inventory, 'group_vars'))
    hosts = {}
    for index in range(1, count + 1):
        name = 'bench-%03d' % index
        hosts[name] = host_vars(index, os.path.join(root, 'render', name))
    with open(os.path.join(inventory, 'hosts.yml'), 'w', encoding='utf-8') as handle:
        json.dump({'r2_clients': {'hosts': hosts}}, handle)  # JSON is YAML
    group = {'provision_account_id': stack.account_id, 'provision_api_url': stack.direct_api_url,
             'provision_endpoint_overrides': stack.s3_endpoints}
    with open(os.path.join(inventory, 'group_vars', 'r2_clients.yml'), 'w', encoding='utf-8') as handle:
        json.dump(group, handle)
    return inventory


def write_baseline(root):
    """The provision playbook's three plays, with the role's tasks replaced by set_fact/debug."""
    for phase, count in PHASE_TASKS.items():
        tasks = []
        for number in range(count):
            if number % 2:
                action = {'ansible.builtin.debug': {'msg': '{{ inventory_hostname }}', 'verbosity': 1}}
            else:
                action = {'ansible.builtin.set_fact': {'__bench_%s_%d' % (phase, number): '{{ inventory_hostname }}'}}
            tasks.append(dict(action, name='%s %d' % (phase, number)))
        with open(os.path.join(root, phase + '.yml'), 'w', encoding='utf-8') as handle:
            json.dump(tasks, handle)
    plays = [
        {'name': 'Inspect', 'hosts': HOSTS, 'gather_facts': False,
         'tasks': [{'name': 'Inspect', 'ansible.builtin.include_tasks': 'inspect.yml'}]},
        {'name': 'Reconcile', 'hosts': HOSTS, 'gather_facts': False, 'strategy': 'ansible.builtin.linear',
         'tasks': [{'name': 'Reconcile', 'ansible.builtin.include_tasks': {
             'file': 'reconcile.yml', 'apply': {'delegate_to': 'localhost', 'run_once': True}},
             'when': 'inventory_hostname == ansible_play_hosts[0]'}]},
        {'name': 'Render', 'hosts': HOSTS, 'gather_facts': False,
         'tasks': [{'name': 'Render', 'ansible.builtin.include_tasks': 'render.yml'}]},
    ]
    playbook = os.path.join(root, 'baseline.yml')
    with open(playbook, 'w', encoding='utf-8') as handle:
        json.dump(plays, handle)
    return playbook


def ansible_playbook(stack, root, inventory, playbook, forks, log, env=None):
    bindir = paths.venv_bin()
    run_env = dict(os.environ)
    for name in ('ANSIBLE_STDOUT_CALLBACK', 'ANSIBLE_CONFIG', 'ANSIBLE_INVENTORY', 'ANSIBLE_STRATEGY'):
        run_env.pop(name, None)
    run_env.update({
        'PATH': bindir + os.pathsep + run_env.get('PATH', ''),
        'ANSIBLE_COLLECTIONS_PATH': paths.collections_path(),
        'CLOUDFLARE_API_TOKEN': stack.bootstrap_token,
        'ANSIBLE_NOCOLOR': '1',
        'ANSIBLE_RETRY_FILES_ENABLED': 'False',
        'ANSIBLE_LOCAL_TEMP': os.path.join(root, 'tmp'),
        'ANSIBLE_HOME': os.path.join(root, 'ansible_home'),
    })
    run_env.update(env or {})
    argv = [os.path.join(bindir, 'ansible-playbook'), '-i', inventory, playbook, '--forks', str(forks)]
    stack.reset_stats()
    start = time.monotonic()
    with open(os.path.join(root, log + '.err'), 'w+', encoding='utf-8') as err:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err, env=run_env,
                                cwd=root, universal_newlines=True, errors='replace')
        lines = [(time.monotonic() - start, line) for line in proc.stdout]
        proc.wait()
        wall = time.monotonic() - start
        err.seek(0)
        stderr = err.read()
    stdout = ''.join(line for dummy, line in lines)
    result = PlaybookResult(argv, proc.returncode, stdout, stderr, stdout + stderr)
    with open(os.path.join(root, log + '.log'), 'w', encoding='utf-8') as handle:
        handle.writelines('%7.2f %s' % entry for entry in lines)
    if not result.ok:
        raise SystemExit('%s failed (rc=%s):\n%s' % (playbook, result.rc, result.output[-5000:]))
    stats = stack.stats()
    methods = collections.Counter(entry['method'] for entry in stats['requests'])
    return result, {'methods': dict(methods), 'total': sum(methods.values()), 'writes': stats['writes'],
                    'routes': stats['counts'], 'wall': wall, 'slowest': task_times(lines)}


def task_times(lines, top=4):
    """The slowest tasks of a run: time from each TASK/PLAY header to the next one (rough with strategy free,
    whose hosts run different tasks at once)."""
    headers = ('TASK [', 'PLAY [', 'PLAY RECAP')
    marks = [(0.0, '[(start-up)]')] + [(t, line) for t, line in lines if line.startswith(headers)]
    times = collections.Counter()
    for (start, line), (end, dummy) in zip(marks, marks[1:]):
        name = line.split('[', 1)[1].rsplit(']', 1)[0].split(' : ')[-1]
        times[name if len(name) <= 40 else name[:37] + '...'] += end - start
    return [(name, round(secs, 1)) for name, secs in times.most_common(top)]


def account_tokens(stack):
    return [token for token in stack.tokens() if token['owner'] == 'account']


def prepare(stack, extra_tokens):
    stack.reset()
    for jurisdiction, bucket in BUCKETS.items():
        stack.create_bucket(bucket, jurisdiction)
    for start in range(0, extra_tokens, 1000):
        stack.seed_token(owner='account', name='filler-%d' % start, count=min(1000, extra_tokens - start),
                         policies=[])


def measure(stack, count, options, top):
    """The four runs for one N; returns the rows and the list of failed checks."""
    prepare(stack, options.extra_tokens)
    root = tempfile.mkdtemp(prefix='n%d-' % count, dir=top)
    inventory = write_inventory(root, count, stack)
    baseline = write_baseline(root)
    provision = 'cloudflare_r2.credentials.provision'
    rows, failures = [], []
    runs = (('baseline', baseline, None), ('first', provision, None), ('converged', provision, None),
            ('free', provision, {'ANSIBLE_STRATEGY': 'free'}))
    for run, playbook, env in runs:
        result, measured = ansible_playbook(stack, root, inventory, playbook, options.forks, run, env)
        tokens = account_tokens(stack)
        row = dict(measured, n=count, run=run, tokens=len(tokens), changed=result.changed, budget=None)
        if run in ('converged', 'free'):
            budget = math.ceil(len(tokens) / 50) + 2
            row['budget'] = 'PASS' if row['total'] <= budget and not row['writes'] else 'FAIL'
            if row['budget'] == 'FAIL':
                failures.append('N=%d %s: %d requests (%d writes), budget %d'
                                % (count, run, row['total'], row['writes'], budget))
            if result.changed:
                failures.append('N=%d %s: changed=%d in PLAY RECAP %s' % (
                    count, run, result.changed, {h: c for h, c in result.recap.items() if c.get('changed')}))
        if run == 'free':
            if row['methods'] != rows[-1]['methods']:
                failures.append('N=%d free: requests %s, converged made %s' % (count, row['methods'],
                                                                               rows[-1]['methods']))
            twice = [name for name, n in collections.Counter(t['name'] for t in tokens).items() if n > 1]
            if twice:
                failures.append('N=%d free: token names twice: %s' % (count, twice[:10]))
        expected = count + options.extra_tokens
        if run != 'baseline' and len(tokens) != expected:
            failures.append('N=%d %s: %d account tokens, expected %d' % (count, run, len(tokens), expected))
        rows.append(row)
        print('  N=%d %-9s %6.1f s  %s' % (count, run, row['wall'], row['methods']), flush=True)
    for row in rows:
        row['x_baseline'] = row['wall'] / rows[0]['wall']
    return rows, failures


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--hosts', default='10,50,200', help='comma-separated host counts (default 10,50,200)')
    parser.add_argument('--extra-tokens', type=int, default=100, help='other account tokens (listing pages)')
    parser.add_argument('--forks', type=int, default=50)
    parser.add_argument('--keep', action='store_true', help='keep the temporary folder (inventories, run logs)')
    options = parser.parse_args()
    counts = [int(n) for n in options.hosts.split(',') if n.strip()]
    paths.collections_path()  # stage once
    top = tempfile.mkdtemp(prefix='r2-provision-bench-')
    stack = CloudflareStack(workdir=os.path.join(top, 'stack')).start()
    rows, failures, loads = [], [], {}
    try:
        for count in counts:
            loads[count] = os.getloadavg()
            print('N=%d (load average %.2f %.2f %.2f, %d cpus)' % ((count,) + loads[count] + (os.cpu_count(),)),
                  flush=True)
            found, failed = measure(stack, count, options, top)
            rows += found
            failures += failed
    finally:
        stack.stop()
        if options.keep:
            print('kept ' + top)
        else:
            shutil.rmtree(top, ignore_errors=True)

    print()
    print('%5s  %-9s %5s %5s %5s %6s %6s %6s %5s %6s %7s %11s' % (
        'N', 'run', *METHODS, 'total', 'writes', 'T', 'budget', 'wall s', 'x baseline'))
    for row in rows:
        print('%5d  %-9s %5d %5d %5d %6d %6d %6d %5d %6s %7.1f %11.2f' % (
            row['n'], row['run'], *(row['methods'].get(m, 0) for m in METHODS), row['total'], row['writes'],
            row['tokens'], row['budget'] or '-', row['wall'], row['x_baseline']))
    print('slowest tasks (s):')
    for row in rows:
        print('%5d  %-9s %s' % (row['n'], row['run'], '; '.join('%s %.1f' % task for task in row['slowest'])))
    print('budget: converged requests <= ceil(T/50)+2, no write; T = account tokens after the run')
    for failure in failures:
        print('FAIL: ' + failure)
    summary = {'load': {n: [round(x, 2) for x in load] for n, load in loads.items()}, 'forks': options.forks,
               'extra_tokens': options.extra_tokens, 'ok': not failures,
               'runs': [dict(row, wall=round(row['wall'], 2), x_baseline=round(row['x_baseline'], 2))
                        for row in rows]}
    print(json.dumps(summary, sort_keys=True))
    if failures:
        sys.exit(1)


if __name__ == '__main__':
    main()
