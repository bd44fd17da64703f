"""Benchmark: r2_credential_set alone on the controller at fleet scale: requests, writes, time and memory per run.

    .venv/bin/python benchmarks/credential_set_scale.py [--hosts 5000] [--shared-tokens 10] [--tokens 480]
                                                        [--json PATH] [--keep]

Starts the emulator (the API used directly, no Prism: this measures the collection) with its rate limit out of
the way, then runs one ansible-playbook per run, each one r2_credential_set task on localhost (no hosts) with
no_log, and a second task that keeps only what the holders would record (key id, expiry, fingerprint: the
bench_held filter of benchmarks/filter_plugins) for the converged run. No secret is printed or written.

    shared     --shared-tokens parent tokens (ansible:shared/bench-NN, each for one of the buckets) and --hosts
               temporary credentials, one per host (bench-hostNNNN:data, prefix hostNNNN/, from parent NN % S)
    per-host   --tokens tokens, one per host (ansible:bench-hostNNNN/data); at most Cloudflare's quota of 500
               less the module's reserve (token_quota_reserve, 10)

Each scenario runs first (holders hold nothing: every token created, every credential minted) and converged
(holders report what the first run handed out: nothing written, ceil(T/50) listing requests, T = account tokens).

Per run: API requests by method and writes (the emulator's counters), the playbook's wall time, the module's
wall time, peak memory (largest resident set of the ansible-playbook process tree, from wait4, and of the module
process, from an interpreter wrapper), the emulator's CPU time, and the pacing floor under Cloudflare's real
budget of 1200 requests per 300 s (requests / 4 per second): "projected" is the wall time the run would take
against Cloudflare, max(wall, floor). The module's own pacer is turned off here (rate_limit 0), so the runs
measure the collection; with it on, it spaces requests to 1080 per 300 s (its 10% reserve).

Checks (exit non-zero on a miss): the first run changes what it must, the converged one changes nothing with no
write and at most ceil(T/50) requests. Wall time includes ansible-playbook's start-up. Not a timed test.
"""

from __future__ import annotations

import argparse
import collections
import json
import math
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, '..', 'tests', 'integration'))

import bench_common  # noqa: E402  pylint: disable=wrong-import-position
from harness import paths  # noqa: E402  pylint: disable=wrong-import-position
from harness.stack import CloudflareStack  # noqa: E402  pylint: disable=wrong-import-position

BUCKETS = ('bench-a', 'bench-b', 'bench-c', 'bench-d')
FILTER_PLUGINS = os.path.join(HERE, 'filter_plugins')
MODULE = 'cloudflare_r2.credentials.r2_credential_set'
REAL_RATE = 1200.0 / 300.0  # Cloudflare's budget per API token, requests per second (REF section 6)
PER_PAGE = 50  # the module lists tokens 50 per page
METHODS = ('GET', 'POST', 'PUT', 'DELETE', 'PATCH')
SECRET_CHARS = re.compile(r'[A-Za-z0-9+/=_-]{20,}')
# the environment of a run of one task on localhost, without an inventory (besides bench_common.playbook_env's)
QUIET = {'ANSIBLE_FILTER_PLUGINS': FILTER_PLUGINS, 'ANSIBLE_LOCALHOST_WARNING': 'False',
         'ANSIBLE_INVENTORY_UNPARSED_WARNING': 'False'}


# --- entries (pure) ---------------------------------------------------------------------------------------
def host_name(index):
    return 'bench-host%04d' % index


def shared_entries(hosts, shared):
    """(tokens, temporary) of the shared mode: ``shared`` parent tokens, one temporary credential per host."""
    tokens = [{'name': 'ansible:shared/bench-%02d' % number, 'label': 'shared bench-%02d' % number,
               'permission': 'object_read_write', 'buckets': [BUCKETS[number % len(BUCKETS)]]}
              for number in range(shared)]
    temporary = []
    for index in range(hosts):
        parent = index % shared
        temporary.append({
            'name': '%s:data' % host_name(index), 'label': 'host %s, credential data' % host_name(index),
            'parent': tokens[parent]['name'], 'bucket': BUCKETS[parent % len(BUCKETS)],
            'permission': 'object_read_write', 'ttl_seconds': 86400, 'prefixes': ['host%04d/' % index],
            'fingerprint': host_name(index), 'held_access_key_id': ''})
    return tokens, temporary


def per_host_entries(count):
    """(tokens, temporary) of the per-host mode: one token per host, held by nobody yet."""
    tokens = [{'name': 'ansible:%s/data' % host_name(index), 'label': 'host %s, credential data' % host_name(index),
               'permission': ('object_read_only', 'object_read_write')[index % 2],
               'buckets': [BUCKETS[index % len(BUCKETS)]], 'fingerprint': host_name(index),
               'held_access_key_id': '', 'held_fingerprint': ''} for index in range(count)]
    return tokens, []


def converged_entries(tokens, temporary, held):
    """The entries of the next run: each holder reports what the last run handed it (``held``: the bench_held
    filter's ``held`` map). Tokens without a holder (no held_access_key_id) stay as they are."""
    def holding(entry, extra):
        got = held.get(entry['name'])
        if got is None or 'held_access_key_id' not in entry:
            return dict(entry)
        out = dict(entry, held_access_key_id=got['access_key_id'] or '', held_fingerprint=got['fingerprint'] or '')
        out.update(extra(got))
        return out
    return ([holding(entry, lambda got: {}) for entry in tokens],
            [holding(entry, lambda got: {'held_expiration': got['expiration'] or ''}) for entry in temporary])


def write_play(path, account_id, api_url, tokens, temporary, held_path, interpreter):
    play = [{
        'name': 'r2_credential_set alone', 'hosts': 'localhost', 'gather_facts': False,
        'vars': {'ansible_python_interpreter': interpreter},
        'tasks': [
            {'name': 'Reconcile', MODULE: {
                'account_id': account_id, 'api_url': api_url, 'rate_limit': 0,
                'tokens': tokens, 'temporary': temporary},
             'no_log': True, 'register': 'bench_result', 'ignore_errors': True},
            {'name': 'Keep what the holders record (no secret)', 'no_log': True,
             'ansible.builtin.copy': {'dest': held_path, 'mode': '0600',
                                      'content': '{{ bench_result | r2_bench_held | to_json }}'}},
        ]}]
    with open(path, 'w', encoding='utf-8') as handle:
        json.dump(play, handle)  # JSON is YAML


def write_interpreter(path, record):
    """A python interpreter for the modules that runs the real one and appends its wall time, CPU time and peak
    memory (RUSAGE_CHILDREN) to ``record``, one JSON line per module run."""
    real = sys.executable
    with open(path, 'w', encoding='utf-8') as handle:
        handle.write('#!%s\n' % real + '\n'.join([
            'import json, os, resource, subprocess, sys, time',
            'start = time.monotonic()',
            'rc = subprocess.call([%r] + sys.argv[1:])' % real,
            'wall = time.monotonic() - start',
            'usage = resource.getrusage(resource.RUSAGE_CHILDREN)',
            'with open(%r, "a", encoding="utf-8") as handle:' % record,
            '    handle.write(json.dumps({"script": os.path.basename(sys.argv[-1]) if len(sys.argv) > 1 else "",',
            '                             "wall": wall, "cpu": usage.ru_utime + usage.ru_stime,',
            '                             "maxrss_kib": usage.ru_maxrss}) + "\\n")',
            'sys.exit(rc)', '']))
    os.chmod(path, stat.S_IRWXU)


# --- numbers (pure) -----------------------------------------------------------------------------------------
def by_method(counts):
    """{METHOD: n} from the emulator's per-route counters ("POST /accounts/{account_id}/tokens": n)."""
    out = collections.Counter()
    for route, count in counts.items():
        method = route.split(' ', 1)[0]
        out[method if method in METHODS else '(no route)'] += count
    return dict(out)


def pacing_floor(requests):
    """Seconds the requests need at least under Cloudflare's budget (1200 per 300 s: 4 per second)."""
    return requests / REAL_RATE


def converged_budget(account_tokens):
    return math.ceil(account_tokens / PER_PAGE)


def task_time(lines, task):
    """Seconds from the TASK [task] header of the default callback's output to the next header (the task as
    ansible-playbook runs it: arguments templated, module run, result handled); None when it is not there."""
    marks = [(t, line) for t, line in lines if line.startswith(('TASK [', 'PLAY RECAP'))]
    for (begin, line), (end, dummy) in zip(marks, marks[1:]):
        if line.startswith('TASK [%s]' % task):
            return end - begin
    return None


def mib(kib):
    return kib / 1024.0 if kib is not None else None


def markdown_table(rows):
    header = ('scenario', 'run', 'tokens', 'temporary', 'GET', 'POST', 'PUT', 'DELETE', 'requests', 'writes',
              'wall s', 'task s', 'module s', 'module MiB', 'playbook MiB', 'emulator CPU s', 'floor s (req/4)',
              'projected s')
    lines = ['| ' + ' | '.join(header) + ' |', '|' + ' --- |' * len(header)]
    for row in rows:
        methods = row['methods']

        def opt(value, fmt):
            return fmt % value if value is not None else '-'
        cells = (row['scenario'], row['run'], '%d' % row['tokens'], '%d' % row['temporary'],
                 *('%d' % methods.get(m, 0) for m in ('GET', 'POST', 'PUT', 'DELETE')),
                 '%d' % row['requests'], '%d' % row['writes'], '%.1f' % row['wall'], opt(row['task_wall'], '%.1f'),
                 opt(row['module_wall'], '%.1f'),
                 opt(mib(row['module_maxrss_kib']), '%.0f'), opt(mib(row['playbook_maxrss_kib']), '%.0f'),
                 opt(row['emulator_cpu'], '%.1f'), '%.0f' % row['floor'], '%.0f' % row['projected'])
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def check_run(row, held, expect):
    """Misses of one run against what it must do: ``expect`` = {'created': n, 'minted': n} for a first run, or
    {'converged': account tokens} for a converged one."""
    misses = []
    name = '%s %s' % (row['scenario'], row['run'])
    if held['failed'] or held['failures']:
        shown = list(held['failures'].values())[:3] or [held.get('msg')]
        misses.append('%s: the module failed (%d entries): %s' % (name, len(held['failures']), shown))
    summary = held['summary']
    if 'converged' in expect:
        budget = converged_budget(expect['converged'])
        if held['changed'] or row['writes'] or row['requests'] > budget:
            misses.append('%s: changed=%s, %d writes, %d requests (budget %d, no write)' % (
                name, held['changed'], row['writes'], row['requests'], budget))
    else:
        for action, count in expect.items():
            if summary.get(action, 0) != count:
                misses.append('%s: %s %d, expected %d (summary %s)' % (name, action, summary.get(action, 0), count,
                                                                       summary))
    return misses


def leaked(texts, secrets):
    """How many of ``secrets`` (the emulator's ledger of every secret it handed out) occur in ``texts``: every
    window of a run of secret characters as long as one of them is looked up."""
    secrets = set(secrets)
    lengths = sorted(set(len(secret) for secret in secrets))
    found = set()
    for text in texts:
        for match in SECRET_CHARS.finditer(text):
            run = match.group(0)
            for length in lengths:
                found.update(run[i:i + length] for i in range(len(run) - length + 1) if run[i:i + length] in secrets)
    return len(found)


def folder_texts(root):
    for folder, dummy, files in os.walk(root):
        for name in files:
            with open(os.path.join(folder, name), encoding='utf-8', errors='replace') as handle:
                yield handle.read()


# --- runs ---------------------------------------------------------------------------------------------------
def cpu_seconds(pid):
    """utime + stime of a process (all its threads), from /proc; None where there is no /proc."""
    try:
        with open('/proc/%d/stat' % pid, encoding='ascii') as handle:
            fields = handle.read().rsplit(')', 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def run_playbook(stack, root, name, playbook):
    """One ansible-playbook run; returns the measured numbers. Its output (no_log: no secret) goes to root/NAME.log."""
    bindir = paths.venv_bin()
    env = bench_common.playbook_env(stack, root, QUIET)
    record = os.path.join(root, name + '.modules.jsonl')
    stack.reset_stats()
    emulator_pid = stack.info['pid']
    cpu_before = cpu_seconds(emulator_pid)
    argv = [os.path.join(bindir, 'ansible-playbook'), playbook]
    start = time.monotonic()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,  # pylint: disable=consider-using-with
                            stderr=subprocess.STDOUT, env=env, cwd=root, universal_newlines=True, errors='replace')
    lines = [(time.monotonic() - start, line) for line in proc.stdout]
    proc.stdout.close()
    dummy, status, usage = os.wait4(proc.pid, 0)  # the rusage of the whole process tree
    wall = time.monotonic() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    cpu_after = cpu_seconds(emulator_pid)
    with open(os.path.join(root, name + '.log'), 'w', encoding='utf-8') as log:
        log.writelines('%7.2f %s' % entry for entry in lines)
    if proc.returncode != 0:
        output = ''.join(line for dummy, line in lines)
        raise SystemExit('%s: ansible-playbook failed (rc=%s):\n%s' % (name, proc.returncode, output[-4000:]))
    stats = stack.stats()
    modules = []
    if os.path.exists(record):
        with open(record, encoding='utf-8') as handle:
            modules = [json.loads(line) for line in handle if line.strip()]
    ours = [m for m in modules if 'r2_credential_set' in m['script']] or modules[:1]
    return {'methods': by_method(stats['counts']), 'requests': stats['total'], 'writes': stats['writes'],
            'wall': wall, 'task_wall': task_time(lines, 'Reconcile'), 'playbook_maxrss_kib': usage.ru_maxrss,
            'module_wall': ours[0]['wall'] if ours else None, 'module_cpu': ours[0]['cpu'] if ours else None,
            'module_maxrss_kib': ours[0]['maxrss_kib'] if ours else None,
            'emulator_cpu': cpu_after - cpu_before if cpu_before is not None and cpu_after is not None else None}


def account_tokens(stack):
    return sum(1 for token in stack.tokens() if token['owner'] == 'account')


def scenario(stack, top, label, tokens, temporary, expect_first):
    """The first and the converged run of one scenario on a fresh account; returns (rows, misses)."""
    stack.reset()
    stack.configure(rate_limit=10 ** 9)  # the emulator's limit out of the way: the module's speed is measured
    for bucket in BUCKETS:
        stack.create_bucket(bucket)
    root = tempfile.mkdtemp(prefix=label + '-', dir=top)
    interpreter = os.path.join(root, 'python')
    rows, misses = [], []
    held = {}
    for run in ('first', 'converged'):
        if run == 'converged':
            tokens, temporary = converged_entries(tokens, temporary, held['held'])
        playbook = os.path.join(root, run + '.yml')
        held_path = os.path.join(root, run + '.held.json')
        write_interpreter(interpreter, os.path.join(root, run + '.modules.jsonl'))
        write_play(playbook, stack.account_id, stack.direct_api_url, tokens, temporary, held_path, interpreter)
        row = dict(run_playbook(stack, root, run, playbook), scenario=label, run=run, tokens=len(tokens),
                   temporary=len(temporary))
        with open(held_path, encoding='utf-8') as handle:
            held = json.load(handle)
        row['summary'], row['module_api_requests'] = held['summary'], held['api_requests']
        row['floor'] = pacing_floor(row['requests'])
        row['projected'] = max(row['wall'], row['floor'])
        row['account_tokens'] = account_tokens(stack)
        misses += check_run(row, held, expect_first if run == 'first' else {'converged': row['account_tokens']})
        rows.append(row)
        print('  %-8s %-9s %6.1f s  %s  writes %d  summary %s' % (label, run, row['wall'], row['methods'],
                                                                  row['writes'], row['summary']), flush=True)
    issued = stack.issued_secrets()
    leaks = leaked(folder_texts(root), issued)
    if leaks:
        misses.append('%s: %d of the %d secrets handed out are in the run\'s files (playbooks, logs, records)'
                      % (label, leaks, len(issued)))
    if not issued:
        misses.append('%s: the emulator handed out no secret, so the leak scan proves nothing' % label)
    return rows, misses


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--hosts', type=int, default=5000, help='hosts of the shared mode (temporary credentials)')
    parser.add_argument('--shared-tokens', type=int, default=10, help='parent tokens of the shared mode')
    parser.add_argument('--tokens', type=int, default=480, help='hosts of the per-host mode (tokens), 0 to skip')
    parser.add_argument('--json', metavar='PATH', help='also write every number here')
    parser.add_argument('--keep', action='store_true', help='keep the temporary folder (playbooks, run logs)')
    options = parser.parse_args()
    if options.hosts and not 1 <= options.shared_tokens <= options.hosts:
        parser.error('--shared-tokens must be from 1 to --hosts')
    paths.collections_path()  # stage once
    top = tempfile.mkdtemp(prefix='r2-credential-set-bench-')
    load = os.getloadavg()
    print('load average %.2f %.2f %.2f, %d cpus' % (load + (os.cpu_count(),)), flush=True)
    stack = CloudflareStack(workdir=os.path.join(top, 'stack')).start()
    rows, misses = [], []
    try:
        if options.hosts:
            tokens, temporary = shared_entries(options.hosts, options.shared_tokens)
            found, missed = scenario(stack, top, 'shared', tokens, temporary,
                                     {'created': options.shared_tokens, 'minted': options.hosts})
            rows += found
            misses += missed
        if options.tokens:
            tokens, temporary = per_host_entries(options.tokens)
            found, missed = scenario(stack, top, 'per-host', tokens, temporary, {'created': options.tokens})
            rows += found
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
    print('requests, writes: the emulator\'s counters; wall: the ansible-playbook run (start-up and the task that keeps '
          'the holders\' records included); task: the r2_credential_set task as ansible-playbook runs it (arguments '
          'templated, result handled); module: its module process; MiB: peak resident set (module; the largest '
          'process of the playbook run); floor: requests / 4 per second (Cloudflare: 1200 per 300 s); '
          'projected = max(wall, floor)')
    for miss in misses:
        print('FAIL: ' + miss)
    if options.json:
        summary = {'load': [round(x, 2) for x in load], 'hosts': options.hosts, 'shared_tokens': options.shared_tokens,
                   'tokens': options.tokens, 'ok': not misses, 'failures': misses,
                   'runs': [bench_common.rounded(row, ('wall', 'task_wall', 'module_wall', 'module_cpu', 'emulator_cpu',
                                                       'floor', 'projected')) for row in rows]}
        bench_common.write_summary(options.json, summary)
    if misses:
        sys.exit(1)


if __name__ == '__main__':
    main()
