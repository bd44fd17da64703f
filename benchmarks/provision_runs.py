"""Benchmark: the provision playbook on N local hosts: API requests, writes, module executions and wall time per run.

    .venv/bin/python benchmarks/provision_runs.py [--hosts 10,50,200] [--extra-tokens 100] [--forks 50]
                                                  [--json PATH] [--enforce-targets] [--keep]
                                                  [--rotate-after 90d] [--mode per-host|shared]
                                                  [--shared-tokens 4] [--runs baseline,floor1,...]

Starts the emulator and, for each N, generates an inventory of N hosts (bench-001...; local connection,
files rendered under a temporary render root, so no unix users are needed; one token credential each,
permissions alternating, buckets in the default/eu/fedramp jurisdictions in turn, and every 5th host also
temporary credentials minted from its token). With --mode shared each host instead names one of --shared-tokens
shared tokens (provision_shared_tokens bench-00...: object_read_write, each on one jurisdiction's bucket; host i
uses bench-(i mod S)) and gets one temporary credential of its own from it, narrowed to prefixes ["{host}/"],
permission alternating, rendered and checked (S3) as the role does by default. The account also holds --extra-tokens other tokens, so the
token listing takes several pages. The API goes to the emulator directly (no Prism: this measures the
collection), the renders' S3 checks to the emulator's S3 endpoints. Runs, for each N, on a fresh account:

    baseline   the same four plays (lock, inspect, reconcile, render) with as many tasks per phase as the role's converged path, each one
               ansible.builtin.set_fact or ansible.builtin.debug (verbosity 1): the cost of Ansible itself
    floor(K)   the same four plays where each host runs K real minimal modules (ansible.builtin.stat): 1 in
               the inspect play, K-1 in the render play, and the reconcile play one on the controller. K=1 is
               what a converged run needs (inspect), K=3 what a first run needs (inspect, write, check)
    first      ansible-playbook -i INV cloudflare_r2.credentials.provision --forks F
    converged  the same again: must change nothing and make at most ceil(T/50)+2 API requests
               (T = account tokens), else the script exits non-zero
    free       the same with ANSIBLE_STRATEGY=free: nothing changed, the same requests, no token name twice
               (its time is compared with floor(1), which runs with the linear strategy)
    renewal    (shared mode) every host inside its renew window (renew_before 3599 of ttl_seconds 3600) with
               provision_shared_signing_keys given (the shared tokens' S3 secrets, read from the emulator into a
               0600 extra-vars file): every host's credential is signed on the controller, so no mint request
               at all (the script fails on one); the hosts render and check as on a first run (floor(3))
    renewal-api  (shared mode, not run by default) the same without the keys: one mint request per host

--runs picks runs (default: baseline,floor1,floor3,first,converged,free per host; baseline,floor1,floor3,first,
converged,renewal shared); the floors a picked run is compared with are run with it.

Module executions are counted by benchmarks/callback_plugins/module_counts.py (enabled for these runs only):
one per task result that ran a module, one per loop item and per until/retries attempt; skipped tasks and
the controller-only actions (set_fact, assert, debug, include_*, meta, validate_argument_spec: the roles'
argument spec check, ...) do not count, tasks delegated to localhost count for the controller. The floor
runs check the counter (K per host, 1 on the controller).

Targets, printed next to the numbers (PASS/MISS; with --enforce-targets a miss fails the script): module
executions per host: first <= 3, converged = 1; wall time: first <= 1.5 x floor(3), converged <= 1.3 x floor(1);
the renewal runs as the first.

Prints a Markdown table, the executions by module and the slowest tasks; --json PATH writes every number
(module counts per host included). Wall time includes ansible-playbook's start-up. The load average is printed:
other work on the machine (a molecule scenario, ...) makes the times noisy. Not part of the timed tests.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, '..', 'tests', 'integration'))

import bench_common  # noqa: E402  pylint: disable=wrong-import-position
from harness import paths  # noqa: E402  pylint: disable=wrong-import-position
from harness.playbook import PlaybookResult  # noqa: E402  pylint: disable=wrong-import-position
from harness.stack import CloudflareStack  # noqa: E402  pylint: disable=wrong-import-position

JURISDICTIONS = ('default', 'eu', 'fedramp', 'us')
BUCKETS = dict((j, 'bench-' + j) for j in JURISDICTIONS)
HOSTS = "{{ provision_target | default('r2_clients') }}"
CALLBACK_PLUGINS = os.path.join(HERE, 'callback_plugins')
CONTROLLER = 'controller'
FLOORS = (1, 3)
# run: (module executions per host: at most, wall time: at most x its floor; None: no target)
TARGETS = {'first': (3, 1.5), 'converged': (1, 1.3), 'free': (1, None)}
MODULE_TARGET_EXACT = ('converged', 'free')  # every host exactly the target, not at most
TARGETS.update({'renewal': TARGETS['first'], 'renewal-api': TARGETS['first']})
FIRST_LIKE = ('first', 'renewal', 'renewal-api')  # compared with floor(3): inspect, write, check
LABELS = dict({'baseline': 'set_fact baseline', 'first': 'first', 'converged': 'converged',
               'free': 'converged, strategy free', 'renewal': 'renewal, signed locally',
               'renewal-api': 'renewal, minted by API'}, **{'floor%d' % calls: 'floor(%d)' % calls for calls in FLOORS})

# Tasks that run (ok) on the role's converged path, per phase, besides the argument spec check of include_role:
# inspect: r2_provision_inspect; reconcile (first host only): collect, account check, r2_credential_set, report,
# hand out, forget; render: r2_provision_render.
PHASE_TASKS = {'inspect': 1, 'reconcile': 6, 'render': 1}
MODES = ('per-host', 'shared')
RUNS = {'per-host': ('baseline', 'floor1', 'floor3', 'first', 'converged', 'free'),
        'shared': ('baseline', 'floor1', 'floor3', 'first', 'converged', 'renewal')}
ALL_RUNS = ('baseline', 'floor1', 'floor3', 'first', 'converged', 'free', 'renewal', 'renewal-api')
SHARED_RUNS = ('renewal', 'renewal-api')
SHARED_PERMISSION = 'object_read_write'
# renewal runs put every host inside its renew window: renew_before just under the (default) ttl_seconds
TTL, RENEW_BEFORE, RENEW_NOW = 3600, 900, 3599
MINT_ROUTE = 'POST /accounts/{account_id}/r2/temp-access-credentials'


def host_vars(index, render_root):
    jurisdiction = JURISDICTIONS[index % len(JURISDICTIONS)]
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


def shared_name(number):
    return 'bench-%02d' % number


def shared_tokens(count):
    """provision_shared_tokens of the shared mode: token NN on the bucket of jurisdiction NN mod 4."""
    out = {}
    for number in range(count):
        jurisdiction = JURISDICTIONS[number % len(JURISDICTIONS)]
        out[shared_name(number)] = {'permission': SHARED_PERMISSION, 'jurisdiction': jurisdiction,
                                    'buckets': [BUCKETS[jurisdiction]]}
    return out


def shared_host_vars(index, render_root, count):
    """One credential of type temporary from shared token (index mod count), narrowed to the host's prefix. Its
    renew_before is a template of bench_renew_before (group var; a renewal run sets it with -e)."""
    number = index % count
    jurisdiction = JURISDICTIONS[number % len(JURISDICTIONS)]
    credential = {'name': 'data', 'shared': shared_name(number), 'bucket': BUCKETS[jurisdiction],
                  'permission': ('object_read_only', 'object_read_write')[index % 2], 'prefixes': ['{host}/'],
                  'ttl_seconds': TTL, 'renew_before': '{{ bench_renew_before | int }}'}
    return {'ansible_connection': 'local', 'ansible_python_interpreter': paths.venv_python(),
            'provision_user': 'root', 'provision_render_root': render_root,
            'provision_credentials': [credential]}


def write_inventory(root, count, stack, rotate_after=None, shared=0):
    """root/inventory/{hosts.yml,group_vars/r2_clients.yml}; returns the inventory folder. ``shared``: the number
    of shared tokens of the shared mode, 0 for a token per host."""
    inventory = os.path.join(root, 'inventory')
    os.makedirs(os.path.join(inventory, 'group_vars'))
    hosts = {}
    for index in range(1, count + 1):
        name = 'bench-%03d' % index
        render_root = os.path.join(root, 'render', name)
        hosts[name] = shared_host_vars(index, render_root, shared) if shared else host_vars(index, render_root)
    with open(os.path.join(inventory, 'hosts.yml'), 'w', encoding='utf-8') as handle:
        json.dump({'r2_clients': {'hosts': hosts}}, handle)  # JSON is YAML
    group = {'provision_account_id': stack.account_id, 'provision_api_url': stack.direct_api_url,
             'provision_endpoint_overrides': stack.s3_endpoints}
    if rotate_after:
        group['provision_rotate_after'] = rotate_after
    if shared:
        group.update(provision_shared_tokens=shared_tokens(shared), bench_renew_before=RENEW_BEFORE)
    with open(os.path.join(inventory, 'group_vars', 'r2_clients.yml'), 'w', encoding='utf-8') as handle:
        json.dump(group, handle)
    return inventory


def write_plays(root, name, phases):
    """The provision playbook's four plays: the run lock (one controller-only task, run once, as the role's
    r2_run_lock), then three plays each including root/NAME-PHASE.yml (the tasks in phases[PHASE]); the
    reconcile runs once, delegated to the controller, as the role's does. Returns the playbook's path."""
    for phase, tasks in phases.items():
        with open(os.path.join(root, '%s-%s.yml' % (name, phase)), 'w', encoding='utf-8') as handle:
            json.dump(tasks, handle)  # JSON is YAML
    plays = [
        {'name': 'Lock', 'hosts': HOSTS, 'gather_facts': False, 'strategy': 'ansible.builtin.linear',
         'tasks': [{'name': 'Lock', 'ansible.builtin.set_fact': {'__bench_lock': True}, 'run_once': True,
                    'delegate_to': 'localhost'}]},
        {'name': 'Inspect', 'hosts': HOSTS, 'gather_facts': False,
         'tasks': [{'name': 'Inspect', 'ansible.builtin.include_tasks': name + '-inspect.yml'}]},
        {'name': 'Reconcile', 'hosts': HOSTS, 'gather_facts': False, 'strategy': 'ansible.builtin.linear',
         'tasks': [{'name': 'Reconcile', 'ansible.builtin.include_tasks': {
             'file': name + '-reconcile.yml', 'apply': {'delegate_to': 'localhost', 'run_once': True}},
             'when': 'inventory_hostname == ansible_play_hosts[0]'}]},
        {'name': 'Render', 'hosts': HOSTS, 'gather_facts': False,
         'tasks': [{'name': 'Render', 'ansible.builtin.include_tasks': name + '-render.yml'}]},
        # the playbook's last play finishes the rotations a run started: on other runs its 5 tasks are skipped
        {'name': 'Finish', 'hosts': HOSTS, 'gather_facts': False, 'strategy': 'ansible.builtin.linear',
         'tasks': [{'name': 'Finish %d' % number, 'ansible.builtin.set_fact': {'__bench_finishing': False},
                    'when': '__bench_finishing | default(false)'} for number in range(5)]},
    ]
    playbook = os.path.join(root, name + '.yml')
    with open(playbook, 'w', encoding='utf-8') as handle:
        json.dump(plays, handle)
    return playbook


def write_baseline(root):
    """The four plays with the role's tasks replaced by set_fact/debug (no module runs)."""
    phases = {}
    for phase, count in PHASE_TASKS.items():
        phases[phase] = []
        for number in range(count):
            if number % 2:
                action = {'ansible.builtin.debug': {'msg': '{{ inventory_hostname }}', 'verbosity': 1}}
            else:
                action = {'ansible.builtin.set_fact': {'__bench_%s_%d' % (phase, number): '{{ inventory_hostname }}'}}
            phases[phase].append(dict(action, name='%s %d' % (phase, number)))
    return write_plays(root, 'baseline', phases)


def write_floor(root, calls):
    """The four plays where each host runs `calls` minimal modules (stat): 1 when inspecting, the rest when
    rendering; the reconcile one on the controller."""
    def stats(phase, count):
        return [{'name': '%s %d' % (phase, number), 'ansible.builtin.stat': {
            'path': '{{ playbook_dir }}', 'get_checksum': False, 'get_mime': False, 'get_attributes': False}}
            for number in range(count)]
    return write_plays(root, 'floor%d' % calls,
                       {'inspect': stats('inspect', 1), 'reconcile': stats('reconcile', 1),
                        'render': stats('render', calls - 1)})


def ansible_playbook(stack, root, inventory, playbook, forks, log, env=None, extra_args=()):
    bindir = paths.venv_bin()
    run_env = bench_common.playbook_env(stack, root, {
        'ANSIBLE_CALLBACK_PLUGINS': CALLBACK_PLUGINS,
        'ANSIBLE_CALLBACKS_ENABLED': 'module_counts',
        'R2_BENCH_MODULE_COUNTS': os.path.join(root, log + '.modules.json'),
    })
    run_env.update(env or {})
    argv = [os.path.join(bindir, 'ansible-playbook'), '-i', inventory, playbook, '--forks', str(forks)]
    argv += list(extra_args)
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
    with open(run_env['R2_BENCH_MODULE_COUNTS'], encoding='utf-8') as handle:
        modules = json.load(handle)
    return result, {'methods': dict(methods), 'total': sum(methods.values()), 'writes': stats['writes'],
                    'routes': stats['counts'], 'wall': wall, 'slowest': task_times(lines), 'modules': modules,
                    'per_host': per_host(modules), 'controller': sum(modules[CONTROLLER].values())}


def per_host(modules):
    """min, max and mean module executions per host (0 for no host)."""
    totals = [sum(counts.values()) for counts in modules['hosts'].values()] or [0]
    return {'min': min(totals), 'max': max(totals), 'mean': round(sum(totals) / len(totals), 2)}


def by_module(modules):
    """'module mean-per-host, ...; controller: module n, ...' with the namespaces of this collection and
    ansible.builtin dropped."""
    def short(name):
        for prefix in ('ansible.builtin.', 'cloudflare_r2.credentials.'):
            if name.startswith(prefix):
                return name[len(prefix):]
        return name
    totals = collections.Counter()
    for counts in modules['hosts'].values():
        totals.update(counts)
    hosts = max(len(modules['hosts']), 1)
    text = ', '.join('%s %g' % (short(name), round(n / hosts, 2)) for name, n in sorted(totals.items())) or 'none'
    controller = ', '.join('%s %d' % (short(name), n) for name, n in sorted(modules[CONTROLLER].items()))
    return text + '; controller: ' + (controller or 'none')


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


def check_counter(row, calls):
    """The floor and baseline runs say what the module counter must find; a mismatch means it miscounts."""
    hosts = {sum(counts.values()) for counts in row['modules']['hosts'].values()}
    controller = 1 if calls else 0
    if hosts != {calls} or row['controller'] != controller:
        return ['N=%d %s: module counter found %s per host and %d on the controller, expected %d and %d'
                % (row['n'], row['run'], sorted(hosts), row['controller'], calls, controller)]
    return []


def apply_targets(row, rows):
    """Ratios to the floor and the set_fact baseline, and the targets of the role's runs."""
    by_run = {other['run']: other for other in rows}
    row['x_set_fact'] = row['wall'] / by_run['baseline']['wall'] if 'baseline' in by_run else None
    row['floor'] = row['x_floor'] = row['module_target'] = row['time_target'] = None
    if row['run'] not in TARGETS:
        return []
    modules, times = TARGETS[row['run']]
    floor = by_run['floor%d' % floor_calls(row['run'])]
    row['floor'], row['floor_run'] = floor['wall'], floor['run']
    row['x_floor'] = row['wall'] / floor['wall']
    exact = row['run'] in MODULE_TARGET_EXACT
    met = row['per_host']['min'] == row['per_host']['max'] == modules if exact else row['per_host']['max'] <= modules
    row['module_target'] = {'target': modules, 'exact': exact, 'met': met}
    missed = [] if met else ['%s module executions per host, target %s %d' % (
        span(row['per_host']), '=' if exact else '<=', modules)]
    if times is not None:
        row['time_target'] = {'target': times, 'met': row['x_floor'] <= times}
        if not row['time_target']['met']:
            missed.append('%.2f x %s, target <= %.1f x' % (row['x_floor'], LABELS[floor['run']], times))
    return ['N=%d %s: %s' % (row['n'], row['run'], miss) for miss in missed]


def floor_calls(run):
    """The floor a run of the role is compared with: floor(3) for the runs that write every host, else floor(1)."""
    return FLOORS[-1] if run in FIRST_LIKE else FLOORS[0]


def pick_runs(mode, wanted=None):
    """The runs to make, in order: ``wanted`` (names, default the mode's) and the floors they are compared with.
    Raises ValueError for a name that is not a run, or a run of the shared mode in the per-host one."""
    wanted = list(wanted or RUNS[mode])
    unknown = [run for run in wanted if run not in ALL_RUNS]
    if unknown:
        raise ValueError('unknown run(s) %s; runs: %s' % (', '.join(unknown), ', '.join(ALL_RUNS)))
    if mode != 'shared' and any(run in SHARED_RUNS for run in wanted):
        raise ValueError('%s: only with --mode shared' % ', '.join(run for run in wanted if run in SHARED_RUNS))
    needed = set(wanted)
    if needed & set(TARGETS) - {'first'}:
        needed.add('first')   # a converged run or a renewal needs the tokens of a first run
    needed.update('floor%d' % floor_calls(run) for run in list(needed) if run in TARGETS)
    return [run for run in ALL_RUNS if run in needed]


def signing_keys(stack):
    """{shared token name: its S3 Secret Access Key (sha256 hex of its value)} for the shared tokens of the run,
    from the emulator's ledger of the values it handed out; each value's token found with its verify call (the
    ledger keeps values only). Secret: never printed; goes to a 0600 file."""
    names = dict((token['id'], token['name']) for token in account_tokens(stack))
    keys = {}
    prefix = 'ansible:shared/'
    for value in stack.issued_secrets():
        if not value.startswith('cfat_'):
            continue
        request = urllib.request.Request('%s/accounts/%s/tokens/verify' % (stack.direct_api_url, stack.account_id),
                                         headers={'Authorization': 'Bearer ' + value})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                token_id = (json.loads(response.read()).get('result') or {}).get('id')
        except urllib.error.HTTPError:
            continue   # a value rolled since: no longer valid
        name = names.get(token_id, '')
        if name.startswith(prefix):
            keys[name[len(prefix):]] = hashlib.sha256(value.encode()).hexdigest()
    return keys


def write_extra_vars(root, name, variables):
    """An extra-vars file (0600 from its first byte, in the run's 0700 folder): ``-e @PATH`` arguments."""
    path = os.path.join(root, name + '.vars.json')
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, 'w', encoding='utf-8') as handle:
        json.dump(variables, handle)
    return ['-e', '@' + path]


def measure(stack, count, options, top):
    """The runs for one N; returns the rows, the list of failed checks and the list of missed targets."""
    prepare(stack, options.extra_tokens)
    root = tempfile.mkdtemp(prefix='n%d-' % count, dir=top)
    shared = options.shared_tokens if options.mode == 'shared' else 0
    inventory = write_inventory(root, count, stack, options.rotate_after, shared)
    provision = 'cloudflare_r2.credentials.provision'
    rows, failures, misses = [], [], []
    playbooks = {'baseline': lambda: write_baseline(root)}
    playbooks.update(('floor%d' % calls, lambda calls=calls: write_floor(root, calls)) for calls in FLOORS)
    for run in ('first', 'converged', 'free') + SHARED_RUNS:
        playbooks[run] = lambda: provision
    renewal = {'bench_renew_before': RENEW_NOW}
    for run in options.run_list:
        env = {'ANSIBLE_STRATEGY': 'free'} if run == 'free' else None
        extra_args = []
        if run == 'renewal':
            keys = signing_keys(stack)
            if sorted(keys) != sorted(shared_tokens(shared)):
                failures.append('N=%d renewal: found the keys of %s, expected every shared token' % (count, sorted(keys)))
            extra_args = write_extra_vars(root, run, dict(renewal, provision_shared_signing_keys=keys))
        elif run == 'renewal-api':
            extra_args = write_extra_vars(root, run, renewal)
        result, measured = ansible_playbook(stack, root, inventory, playbooks[run](), options.forks, run, env,
                                            extra_args)
        tokens = account_tokens(stack)
        row = dict(measured, n=count, run=run, tokens=len(tokens), changed=result.changed, budget=None)
        mints = row['routes'].get(MINT_ROUTE, 0)
        row['mints'] = mints
        if shared and run in FIRST_LIKE:
            expected_mints = 0 if run == 'renewal' else count
            if mints != expected_mints:
                failures.append('N=%d %s: %d mint requests, expected %d' % (count, run, mints, expected_mints))
        if run == 'baseline':
            failures += check_counter(row, 0)
        elif run.startswith('floor'):
            failures += check_counter(row, int(run[len('floor'):]))
        if run in ('converged', 'free'):
            budget = math.ceil(len(tokens) / 50) + 2
            met = row['total'] <= budget and not row['writes']
            row['budget'] = {'limit': budget, 'met': met}
            if not met:
                failures.append('N=%d %s: %d requests (%d writes), budget %d'
                                % (count, run, row['total'], row['writes'], budget))
            if result.changed:
                failures.append('N=%d %s: changed=%d in PLAY RECAP %s' % (
                    count, run, result.changed, {h: c for h, c in result.recap.items() if c.get('changed')}))
        if run == 'free' and rows and rows[-1]['run'] == 'converged':
            if row['methods'] != rows[-1]['methods']:
                failures.append('N=%d free: requests %s, converged made %s' % (count, row['methods'],
                                                                               rows[-1]['methods']))
        if run in TARGETS:
            twice = [name for name, n in collections.Counter(t['name'] for t in tokens).items() if n > 1]
            if twice:
                failures.append('N=%d %s: token names twice: %s' % (count, run, twice[:10]))
        expected = (shared or count) + options.extra_tokens
        if run in TARGETS and len(tokens) != expected:
            failures.append('N=%d %s: %d account tokens, expected %d' % (count, run, len(tokens), expected))
        rows.append(row)
        print('  N=%d %-11s %6.1f s  %s  writes %d, mints %d, modules/host %s, controller %d' % (
            count, run, row['wall'], row['methods'], row['writes'], mints, span(row['per_host']), row['controller']),
            flush=True)
    for row in rows:
        misses += apply_targets(row, rows)
    return rows, failures, misses


def span(spread):
    """'3', or '2-4' when the hosts differ."""
    if spread['min'] == spread['max']:
        return '%d' % spread['max']
    return '%d-%d' % (spread['min'], spread['max'])


def verdict(met):
    return 'PASS' if met else 'MISS'


def requests_cell(methods):
    """'247 (7 GET, 240 POST)', or '3 GET' for one method."""
    total = sum(methods.values())
    order = ('GET', 'POST', 'PUT', 'PATCH', 'DELETE')
    parts = ['%d %s' % (methods[m], m) for m in sorted(methods, key=lambda m: (order.index(m) if m in order else 9, m))]
    if len(parts) == 1:
        return parts[0]
    return '%d (%s)' % (total, ', '.join(parts)) if parts else '0'


def markdown_table(rows):
    header = ('N', 'run', 'requests', 'writes', 'request budget', 'modules/host', 'modules target', 'controller',
              'wall s', 'floor s', 'x floor', 'time target', 'x set_fact')
    lines = ['| ' + ' | '.join(header) + ' |', '|' + ' --- |' * len(header)]
    for row in rows:
        budget = row['budget']
        module_target, time_target = row['module_target'], row['time_target']
        cells = (
            '%d' % row['n'], LABELS[row['run']], requests_cell(row['methods']), '%d' % row['writes'],
            '<= %d %s' % (budget['limit'], 'PASS' if budget['met'] else 'FAIL') if budget else '',
            span(row['per_host']),
            '%s %d %s' % ('=' if module_target['exact'] else '<=', module_target['target'],
                          verdict(module_target['met'])) if module_target else '',
            '%d' % row['controller'], '%.1f' % row['wall'],
            '%.1f %s' % (row['floor'], LABELS[row['floor_run']]) if row['floor'] else '',
            '%.2f' % row['x_floor'] if row['x_floor'] else '',
            '<= %.1f %s' % (time_target['target'], verdict(time_target['met'])) if time_target else '',
            '%.2f' % row['x_set_fact'] if row['x_set_fact'] else '')
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--hosts', default='10,50,200', help='comma-separated host counts (default 10,50,200)')
    parser.add_argument('--extra-tokens', type=int, default=100, help='other account tokens (listing pages)')
    parser.add_argument('--forks', type=int, default=50)
    parser.add_argument('--keep', action='store_true', help='keep the temporary folder (inventories, run logs)')
    parser.add_argument('--json', metavar='PATH', help='write the results (module counts per host included) here')
    parser.add_argument('--rotate-after', metavar='DURATION',
                        help='provision_rotate_after for every host (a schedule: converged runs must cost the same)')
    parser.add_argument('--enforce-targets', action='store_true',
                        help='exit non-zero when a run misses a target (module executions, time to the floor)')
    parser.add_argument('--mode', choices=MODES, default='per-host',
                        help='per-host: a token per host (default); shared: temporary credentials per host from '
                             '--shared-tokens shared tokens')
    parser.add_argument('--shared-tokens', type=int, default=4, help='shared tokens of --mode shared (default 4)')
    parser.add_argument('--runs', help='comma-separated runs (default: the mode\'s; see above)')
    options = parser.parse_args()
    if not 1 <= options.shared_tokens <= 100:
        parser.error('--shared-tokens must be from 1 to 100')
    try:
        options.run_list = pick_runs(options.mode, [r.strip() for r in (options.runs or '').split(',') if r.strip()])
    except ValueError as exc:
        parser.error(str(exc))
    counts = [int(n) for n in options.hosts.split(',') if n.strip()]
    paths.collections_path()  # stage once
    top = tempfile.mkdtemp(prefix='r2-provision-bench-')
    stack = CloudflareStack(workdir=os.path.join(top, 'stack')).start()
    rows, failures, misses, loads = [], [], [], {}
    try:
        for count in counts:
            loads[count] = os.getloadavg()
            print('N=%d (load average %.2f %.2f %.2f, %d cpus)' % ((count,) + loads[count] + (os.cpu_count(),)),
                  flush=True)
            found, failed, missed = measure(stack, count, options, top)
            rows += found
            failures += failed
            misses += missed
    finally:
        stack.stop()
        if options.keep:
            print('kept ' + top)
        else:
            shutil.rmtree(top, ignore_errors=True)

    print()
    print(markdown_table(rows))
    print()
    print('module executions by module (mean per host; controller):')
    for row in rows:
        print('%5d  %-24s %s' % (row['n'], LABELS[row['run']], by_module(row['modules'])))
    print('slowest tasks (s):')
    for row in rows:
        print('%5d  %-24s %s' % (row['n'], LABELS[row['run']],
                                 '; '.join('%s %.1f' % task for task in row['slowest'])))
    print('request budget: converged requests <= ceil(T/50)+2, no write; T = account tokens after the run')
    print('targets: module executions per host first <= %d, converged = %d; wall first <= %.1f x floor(%d), '
          'converged <= %.1f x floor(%d)' % (TARGETS['first'][0], TARGETS['converged'][0], TARGETS['first'][1],
                                             FLOORS[-1], TARGETS['converged'][1], FLOORS[0]))
    for failure in failures:
        print('FAIL: ' + failure)
    for miss in misses:
        print(('FAIL: ' if options.enforce_targets else 'MISS: ') + miss)
    if options.enforce_targets:
        failures += misses
    if options.json:
        summary = {'load': {n: [round(x, 2) for x in load] for n, load in loads.items()}, 'forks': options.forks,
                   'mode': options.mode, 'shared_tokens': options.shared_tokens if options.mode == 'shared' else 0,
                   'extra_tokens': options.extra_tokens, 'ok': not failures, 'failures': failures,
                   'targets_missed': misses, 'runs': [rounded(row) for row in rows]}
        with open(options.json, 'w', encoding='utf-8') as handle:
            json.dump(summary, handle, indent=1, sort_keys=True)
        print('wrote ' + options.json)
    if failures:
        sys.exit(1)


def rounded(row):
    return dict(row, **{key: round(row[key], 2) for key in ('wall', 'floor', 'x_floor', 'x_set_fact')
                        if row[key] is not None})


if __name__ == '__main__':
    main()
