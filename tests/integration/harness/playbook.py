"""Run the real ``ansible-playbook`` against the emulated API."""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
import threading

from . import paths

RECAP_RE = re.compile(r'^(?P<host>\S+)\s*:\s*(?P<counts>(?:\w+=\d+\s*)+)$')


class PlaybookResult:
    """Outcome of one ``ansible-playbook`` run."""

    def __init__(self, argv, rc, stdout, stderr, output):
        self.argv = argv
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr
        self.output = output  # stdout and stderr interleaved as they arrived

    @property
    def ok(self) -> bool:
        return self.rc == 0

    @property
    def recap(self) -> dict:
        """``{host: {'ok': n, 'changed': n, 'failed': n, ...}}`` from PLAY RECAP."""
        result = {}
        in_recap = False
        for line in self.stdout.splitlines():
            if line.startswith('PLAY RECAP'):
                in_recap = True
                continue
            match = RECAP_RE.match(line.strip()) if in_recap else None
            if match:
                result[match.group('host')] = {k: int(v) for k, v in re.findall(r'(\w+)=(\d+)', match.group('counts'))}
        return result

    @property
    def changed(self) -> int:
        return sum(h.get('changed', 0) for h in self.recap.values())

    @property
    def failed(self) -> int:
        return sum(h.get('failed', 0) + h.get('unreachable', 0) for h in self.recap.values())

    def __repr__(self) -> str:
        return '<PlaybookResult rc=%s recap=%s>' % (self.rc, self.recap)

    def describe(self) -> str:
        return '$ %s\nrc=%s\n%s' % (' '.join(self.argv), self.rc, self.output)


def resolve_playbook(playbook: str) -> str:
    """An absolute path, a path relative to cwd, or a name in tests/integration/playbooks/."""
    for candidate in (playbook, os.path.join(paths.PLAYBOOK_DIR, playbook),
                      os.path.join(paths.PLAYBOOK_DIR, playbook + '.yml')):
        if os.path.isfile(candidate):
            return os.path.abspath(candidate)
    raise FileNotFoundError('playbook not found: %s (looked in %s)' % (playbook, paths.PLAYBOOK_DIR))


def _pump(stream, sink: list, combined: list, lock: threading.Lock) -> None:
    for line in iter(stream.readline, ''):
        sink.append(line)
        with lock:
            combined.append(line)
    stream.close()


def run_playbook(cf, playbook, extra_vars=None, env=None, verbosity=0, check=False, diff=False,
                 direct=False, collections_path=None, timeout=600, args=()) -> PlaybookResult:
    """Run ``ansible-playbook PLAYBOOK`` against ``cf`` (a CloudflareStack).

    Environment: ANSIBLE_COLLECTIONS_PATH = the staged collections root (or
    ``collections_path``), CLOUDFLARE_API_TOKEN = the bootstrap token,
    CLOUDFLARE_ACCOUNT_ID, CLOUDFLARE_API_URL = ``cf_api_url``; extra vars
    ``cf_api_url`` (recorder, or the emulator if ``direct``), ``cf_admin_url``,
    ``cf_account_id``.  ``env`` entries override (a value of None removes the
    variable).  Inventory: localhost with the local connection and this venv's
    python.
    """
    playbook = resolve_playbook(playbook)
    bindir = paths.venv_bin()
    workdir = tempfile.mkdtemp(prefix='play-', dir=cf.workdir)
    inventory = os.path.join(workdir, 'inventory.ini')
    with open(inventory, 'w', encoding='utf-8') as handle:
        handle.write('localhost ansible_connection=local ansible_python_interpreter=%s\n' % paths.venv_python())

    api_url = cf.direct_api_url if direct else cf.api_url
    variables = {'cf_api_url': api_url, 'cf_admin_url': cf.admin_url, 'cf_account_id': cf.account_id}
    variables.update(extra_vars or {})
    vars_file = os.path.join(workdir, 'extra_vars.json')
    with open(vars_file, 'w', encoding='utf-8') as handle:
        json.dump(variables, handle)

    run_env = dict(os.environ)
    run_env.update({
        'PATH': bindir + os.pathsep + run_env.get('PATH', ''),
        'ANSIBLE_COLLECTIONS_PATH': collections_path or paths.collections_path(),
        'CLOUDFLARE_API_TOKEN': cf.bootstrap_token,
        'CLOUDFLARE_ACCOUNT_ID': cf.account_id,
        'CLOUDFLARE_API_URL': api_url,
        'ANSIBLE_NOCOLOR': '1',
        'ANSIBLE_FORCE_COLOR': '0',
        'ANSIBLE_LOCALHOST_WARNING': 'False',
        'ANSIBLE_INVENTORY_UNPARSED_WARNING': 'False',
        'ANSIBLE_RETRY_FILES_ENABLED': 'False',
        'ANSIBLE_LOCAL_TEMP': os.path.join(workdir, 'tmp'),
        'ANSIBLE_HOME': os.path.join(workdir, 'ansible_home'),
        'PYTHONDONTWRITEBYTECODE': '1',
    })
    for name in ('ANSIBLE_STDOUT_CALLBACK', 'ANSIBLE_CONFIG', 'ANSIBLE_INVENTORY'):
        run_env.pop(name, None)  # default callback; no stray config
    for name, value in (env or {}).items():
        if value is None:
            run_env.pop(name, None)
        else:
            run_env[name] = str(value)

    argv = [os.path.join(bindir, 'ansible-playbook'), '-i', inventory, '-e', '@' + vars_file]
    if verbosity:
        argv.append('-' + 'v' * verbosity)
    if check:
        argv.append('--check')
    if diff:
        argv.append('--diff')
    argv += list(args) + [playbook]

    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=run_env, cwd=os.path.dirname(playbook), universal_newlines=True,
                            errors='replace')
    out, err, combined = [], [], []
    lock = threading.Lock()
    pumps = [threading.Thread(target=_pump, args=(proc.stdout, out, combined, lock), daemon=True),
             threading.Thread(target=_pump, args=(proc.stderr, err, combined, lock), daemon=True)]
    for pump in pumps:
        pump.start()
    try:
        rc = proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        rc = proc.wait()
        err.append('\n[harness] ansible-playbook killed after %ss\n' % timeout)
        combined.append(err[-1])
    for pump in pumps:
        pump.join()
    result = PlaybookResult(argv, rc, ''.join(out), ''.join(err), ''.join(combined))
    with open(os.path.join(workdir, 'output.txt'), 'w', encoding='utf-8') as handle:
        handle.write(result.describe())
    return result
