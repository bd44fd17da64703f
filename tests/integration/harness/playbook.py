"""Run the real ``ansible-playbook`` against the emulated API."""

from __future__ import annotations

import json
import math
import os
import re
import signal
import subprocess
import tempfile
import threading
import time

from . import paths

RECAP_RE = re.compile(r'^(?P<host>\S+)\s*:\s*(?P<counts>(?:\w+=\d+\s*)+)$')

# --- time limits ----------------------------------------------------------------------------
# A run's limit is its nominal time (what it may take on an idle machine, with room to spare)
# times a slowness factor: R2_TEST_TIMEOUT_FACTOR (default DEFAULT_FACTOR) times the machine's
# load per usable CPU (1-minute load average, at least 1, at most MAX_LOAD_FACTOR; re-read while
# the run goes on, the highest value counts).  Under pytest the limit is also capped by the
# test's own pytest-timeout budget (conftest passes ``deadline``), so that a slow run is killed
# by the harness, with its output in the failure report, rather than by pytest-timeout.
DEFAULT_TIMEOUT = 600.0   # nominal seconds for a run that gives no estimate of its own
DEFAULT_FACTOR = 2.0
MAX_LOAD_FACTOR = 4.0
DEADLINE_MARGIN = 45.0    # seconds left before ``deadline`` for the kill, the report and teardown
_POLL = 5.0               # how often the load average is re-read during a run


def timeout_factor() -> float:
    """``R2_TEST_TIMEOUT_FACTOR`` (a number > 0), default ``DEFAULT_FACTOR``."""
    text = os.environ.get('R2_TEST_TIMEOUT_FACTOR', '').strip()
    if not text:
        return DEFAULT_FACTOR
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not math.isfinite(value) or value <= 0:
        raise ValueError('R2_TEST_TIMEOUT_FACTOR must be a number > 0, not %r' % text)
    return value


def _usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def load_factor() -> float:
    """1-minute load average per usable CPU, clamped to [1, MAX_LOAD_FACTOR] (1 if unknown)."""
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        return 1.0
    return min(MAX_LOAD_FACTOR, max(1.0, load / _usable_cpus()))


class TimeLimit:
    """The limit of one run: ``nominal`` x ``factor`` x the highest load factor seen, capped by
    ``deadline`` (a ``time.monotonic()`` value) minus ``DEADLINE_MARGIN``."""

    def __init__(self, nominal=None, factor=None, deadline=None):
        self.nominal = float(DEFAULT_TIMEOUT if nominal is None else nominal)
        if not math.isfinite(self.nominal) or self.nominal <= 0:
            raise ValueError('timeout must be > 0, not %r' % nominal)
        self.factor = timeout_factor() if factor is None else float(factor)
        self.deadline = deadline
        self.start = time.monotonic()
        self.load = load_factor()

    def update_load(self) -> None:
        self.load = max(self.load, load_factor())

    @property
    def scaled(self) -> float:
        return self.nominal * self.factor * self.load

    @property
    def _cap(self):
        """``deadline`` less the margin (less only a quarter of what is left, if that is shorter)."""
        if self.deadline is None:
            return None
        left = max(0.0, self.deadline - self.start)
        return self.start + left - min(DEADLINE_MARGIN, left / 4)

    @property
    def capped(self) -> bool:
        cap = self._cap
        return cap is not None and cap < self.start + self.scaled

    @property
    def end(self) -> float:
        end = self.start + self.scaled
        cap = self._cap
        return end if cap is None else min(end, cap)

    @property
    def seconds(self) -> float:
        """The limit in seconds from the start of the run."""
        return self.end - self.start

    def describe(self) -> str:
        text = '%.0fs = %.0fs nominal x factor %g (R2_TEST_TIMEOUT_FACTOR) x load %.2f' % (
            self.scaled, self.nominal, self.factor, self.load)
        if self.capped:
            text = "%.0fs, what was left of the test's pytest-timeout budget less a margin (uncapped: %s)" % (
                self.seconds, text)
        return text


class PlaybookResult:
    """Outcome of one ``ansible-playbook`` run."""

    def __init__(self, argv, rc, stdout, stderr, output, elapsed=None, timed_out=False, limit=None):
        self.argv = argv
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr
        self.output = output  # stdout and stderr interleaved as they arrived
        self.elapsed = elapsed  # seconds
        self.timed_out = timed_out  # killed by the harness's time limit
        self.limit = limit  # TimeLimit

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
        timing = ''
        if self.elapsed is not None:
            timing = ' after %.1fs' % self.elapsed
            if self.limit is not None:
                timing += ' (limit %s)' % self.limit.describe()
        # a kill is also the last line of the output, which the tests' describe()[-N:] shows
        killed = ', KILLED BY THE HARNESS' if self.timed_out else ''
        return '$ %s\nrc=%s%s%s\n%s' % (' '.join(self.argv), self.rc, timing, killed, self.output)


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


def _children() -> dict:
    """``{ppid: [pid, ...]}`` of every process, from /proc (empty where there is no /proc)."""
    children: dict = {}
    try:
        names = os.listdir('/proc')
    except OSError:
        return children
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % name, 'rb') as handle:
                stat = handle.read()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces and parentheses
        fields = stat[stat.rfind(b')') + 2:].split()
        if len(fields) > 1:
            children.setdefault(int(fields[1]), []).append(int(name))
    return children


def _descendants(pid: int) -> list:
    tree = _children()
    found, todo = [], [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            if child not in found:
                found.append(child)
                todo.append(child)
    return found


def _kill_tree(proc) -> None:
    """SIGKILL ansible-playbook and every process it started.

    Not a process group kill: ansible's worker processes call setsid(), so a worker and the
    modules it runs are in a group of their own.  The tree is stopped first (SIGSTOP, until no
    new process appears), then killed, so that nothing forks away in between.  Only while
    ansible-playbook is not reaped yet: until then neither its pid nor its children's can
    have been reused by an unrelated process.
    """
    if proc.returncode is not None:
        return
    stopped = [proc.pid]
    try:
        os.kill(proc.pid, signal.SIGSTOP)
    except ProcessLookupError:
        pass
    for _round in range(20):
        new = [pid for pid in _descendants(proc.pid) if pid not in stopped]
        if not new:
            break
        for pid in new:
            try:
                os.kill(pid, signal.SIGSTOP)
            except ProcessLookupError:
                pass
        stopped += new
    for pid in stopped:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # whatever else is in its own process group
    except (ProcessLookupError, PermissionError):
        pass


def run_playbook(cf, playbook, extra_vars=None, env=None, verbosity=0, check=False, diff=False,
                 direct=False, collections_path=None, timeout=None, deadline=None, args=()) -> PlaybookResult:
    """Run ``ansible-playbook PLAYBOOK`` against ``cf`` (a CloudflareStack).

    Environment: ANSIBLE_COLLECTIONS_PATH = the staged collections root (or
    ``collections_path``), CLOUDFLARE_API_TOKEN = the bootstrap token,
    CLOUDFLARE_ACCOUNT_ID, CLOUDFLARE_API_URL = ``cf_api_url``; extra vars
    ``cf_api_url`` (recorder, or the emulator if ``direct``), ``cf_admin_url``,
    ``cf_account_id``.  ``env`` entries override (a value of None removes the
    variable).  Inventory: localhost with the local connection and this venv's
    python.

    Time limit (see ``TimeLimit``): ``timeout`` is the run's nominal time in seconds
    (default ``DEFAULT_TIMEOUT``), scaled by ``R2_TEST_TIMEOUT_FACTOR`` and the load
    average; ``deadline`` (``time.monotonic()``) caps it.  Past the limit the run's
    process group is killed and the result has ``timed_out`` and the limit in ``describe()``.
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

    limit = TimeLimit(timeout, deadline=deadline)
    # Its own session: a kill (_kill_tree) is aimed at it and its descendants, and terminal
    # signals do not reach it behind the harness's back.
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=run_env, cwd=os.path.dirname(playbook), universal_newlines=True,
                            errors='replace', start_new_session=True)
    out, err, combined = [], [], []
    lock = threading.Lock()
    pumps = [threading.Thread(target=_pump, args=(proc.stdout, out, combined, lock), daemon=True),
             threading.Thread(target=_pump, args=(proc.stderr, err, combined, lock), daemon=True)]
    for pump in pumps:
        pump.start()
    timed_out = False
    try:
        while True:
            remaining = limit.end - time.monotonic()
            if remaining <= 0:
                timed_out = True
                break
            try:
                rc = proc.wait(min(remaining, _POLL))
                break
            except subprocess.TimeoutExpired:
                limit.update_load()
    except BaseException:  # pytest-timeout, KeyboardInterrupt: leave nothing running
        _kill_tree(proc)
        raise
    if timed_out:
        _kill_tree(proc)
        rc = proc.wait()
    elapsed = time.monotonic() - limit.start
    for pump in pumps:
        pump.join(30)  # bounded: a stray child could hold a pipe open
    if timed_out:
        with lock:
            err.append('\n[harness] ansible-playbook killed after %.0fs (limit %s)\n' % (elapsed, limit.describe()))
            combined.append(err[-1])
    with lock:
        result = PlaybookResult(argv, rc, ''.join(out), ''.join(err), ''.join(combined),
                                elapsed=elapsed, timed_out=timed_out, limit=limit)
    with open(os.path.join(workdir, 'output.txt'), 'w', encoding='utf-8') as handle:
        handle.write(result.describe())
    return result
