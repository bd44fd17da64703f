"""Run the molecule scenarios of ``extensions/molecule/`` from pytest.

The scenarios use machine-wide things (unix users, an sshd on a loopback address), so every
run takes one lock for the whole machine (``LOCK_PATH``): two scenarios, or two clones of the
repo, never run at once. A run has a timeout (its process group is killed, then the scenario is
destroyed), and its output goes, as it arrives, to
``tests/output/integration/<scenario>/molecule.log`` (step lines get the elapsed time).

Typical use, in a scenario's ``run_scenario.py`` (run from tests/integration, so that
``harness`` and the ``collections_path`` fixture of its conftest are found)::

    from harness import molecule

    def test_scenario(collections_path):
        env = molecule.scenario_env(collections_path, {'MY_SCENARIO_URL': url})
        output, returncode, seconds = molecule.run('my_scenario', env)
        molecule.assert_no_secrets('my_scenario', output, [secret1, secret2])
        molecule.assert_sequence_successful('my_scenario', output, returncode)
"""

from __future__ import annotations

import collections
import fcntl
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from typing import Iterable, Mapping, NamedTuple, Optional, Sequence, Union

import yaml

from . import paths

SCENARIOS_DIR = os.path.join(paths.REPO, 'extensions', 'molecule')
LOCK_PATH = os.environ.get('R2_MOLECULE_LOCK', '/tmp/r2-molecule.lock')
DEFAULT_TIMEOUT = 900
# molecule's own default; a scenario's molecule.yml normally names its sequence
DEFAULT_SEQUENCE = ('dependency', 'cleanup', 'destroy', 'syntax', 'create', 'prepare', 'converge', 'idempotence',
                    'side_effect', 'verify', 'cleanup', 'destroy')
_STEP_LINE = re.compile(r'\] (Executing|Executed)')
_ANSI = re.compile(r'\x1b\[[0-9;]*[A-Za-z]')  # molecule colours some words even with NO_COLOR

Command = Union[str, Sequence[str]]


class MoleculeRun(NamedTuple):
    output: str       # stdout and stderr of every command, as in the log
    returncode: int   # of the first command that failed, else 0
    seconds: float


def require_machine(scenario: str) -> None:
    """Skip without root; fail naming what is missing (users, sshd, the real clients, the clients venv)."""
    import pytest  # pylint: disable=import-outside-toplevel
    if os.geteuid() != 0:
        pytest.skip('the %s scenario creates unix users: run as root' % scenario)
    missing = [cmd for cmd in ('useradd', 'userdel', 'su', 'ssh', 'ssh-keygen', 'rclone', 's3cmd') if not shutil.which(cmd)]
    if not os.path.exists('/usr/sbin/sshd'):
        missing.append('sshd (openssh-server)')
    if not os.access(paths.clients_python(), os.X_OK):
        missing.append('the S3 clients venv %s' % paths.clients_venv())
    assert not missing, 'missing on this machine (scripts/bootstrap.sh installs them): %s' % ', '.join(missing)


def scenario_dir(scenario: str) -> str:
    return os.path.join(SCENARIOS_DIR, scenario)


def log_path(scenario: str) -> str:
    return os.path.join(paths.output_dir(scenario), 'molecule.log')


def scenario_config(scenario: str) -> dict:
    with open(os.path.join(scenario_dir(scenario), 'molecule.yml'), encoding='utf-8') as handle:
        return yaml.safe_load(handle) or {}


def scenario_sequence(scenario: str) -> list:
    """The scenario's ``scenario.test_sequence`` (molecule's default when it names none)."""
    return list((scenario_config(scenario).get('scenario') or {}).get('test_sequence') or DEFAULT_SEQUENCE)


def scenario_env(collections_path: str, extra: Optional[Mapping[str, str]] = None, **more: str) -> dict:
    """The environment for molecule: this process's, plus

    - ``PATH`` starting with the venv that runs the tests (molecule, ansible-playbook),
    - ``ANSIBLE_COLLECTIONS_PATH`` = the staged collection (``collections_path`` fixture),
    - ``R2_CLIENTS_VENV`` = the world-readable S3 clients venv (aws CLI, boto3) for tasks that
      run as unprivileged users,
    - colours off,

    then ``extra`` and keyword arguments (values made strings), which win.
    """
    env = dict(os.environ)
    env.pop('MOLECULE_GLOB', None)
    env.update({
        'PATH': paths.venv_bin() + os.pathsep + env.get('PATH', ''),
        'ANSIBLE_COLLECTIONS_PATH': collections_path,
        'R2_CLIENTS_VENV': paths.clients_venv(),
        'NO_COLOR': '1', 'PY_COLORS': '0', 'ANSIBLE_NOCOLOR': '1', 'ANSIBLE_FORCE_COLOR': '0',
    })
    for key, value in dict(extra or {}, **more).items():
        env[key] = str(value)
    return env


class _MachineLock:
    """``flock`` on ``LOCK_PATH``, waiting at most ``timeout`` seconds."""

    def __init__(self, timeout: float):
        self.timeout = timeout
        self.handle = None

    def __enter__(self):
        self.handle = open(LOCK_PATH, 'a')  # pylint: disable=consider-using-with,unspecified-encoding
        deadline = time.monotonic() + self.timeout
        waited = False
        while True:
            try:
                fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return self
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    self.handle.close()
                    raise TimeoutError('another molecule scenario held %s for over %ds' % (LOCK_PATH, self.timeout))
                if not waited:
                    print('waiting for %s (another molecule scenario is running)' % LOCK_PATH, flush=True)
                waited = True
                time.sleep(1)

    def __exit__(self, *exc):
        fcntl.flock(self.handle, fcntl.LOCK_UN)
        self.handle.close()


def _argv(scenario: str, command: Command) -> list:
    parts = [command] if isinstance(command, str) else list(command)
    return ['molecule', parts[0], '-s', scenario] + parts[1:]


def _run_one(argv, env, deadline, started, write) -> tuple:
    """One molecule command, its output through ``write``; killed (whole process group) at ``deadline``.

    Returns ``(returncode, timed_out)``.
    """
    write('$ %s\n' % ' '.join(argv))
    proc = subprocess.Popen(argv, cwd=paths.REPO, env=env, stdout=subprocess.PIPE,  # pylint: disable=consider-using-with
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, universal_newlines=True,
                            start_new_session=True)

    def pump():
        for line in proc.stdout:
            line = _ANSI.sub('', line)
            if _STEP_LINE.search(line):
                line = '[+%5.1fs] %s' % (time.monotonic() - started, line)
            write(line)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        returncode = proc.wait(timeout=max(deadline - time.monotonic(), 1))
    except subprocess.TimeoutExpired:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                proc.wait(timeout=15)
                break
            except subprocess.TimeoutExpired:
                continue
        proc.wait()
        reader.join(timeout=15)
        write('*** molecule %s killed: timeout\n' % argv[1])
        return proc.returncode or -1, True
    reader.join(timeout=60)  # (a daemon that kept molecule's stdout would hold it open)
    if reader.is_alive():
        write('*** molecule %s exited, but something still holds its output open\n' % argv[1])
    return returncode, False


def run(scenario: str, env: Mapping[str, str], commands: Optional[Iterable[Command]] = None,
        timeout: float = DEFAULT_TIMEOUT, lock_timeout: Optional[float] = None) -> MoleculeRun:
    """Run ``molecule test -s SCENARIO``, or each of ``commands`` in turn (stopping at the first failure).

    A command is a molecule subcommand with its arguments, ``'converge'`` or
    ``['converge', '--', '-vvv']``; ``-s SCENARIO`` is put after the subcommand. ``timeout`` is
    for all the commands together (not counting the wait for the machine lock, at most
    ``lock_timeout``, default ``timeout``); on a timeout the run is killed and
    ``molecule destroy`` cleans up (the users and the sshd are the machine's). Returns
    ``(output, returncode, seconds)``; the output is also in ``log_path(scenario)``.
    The scenario must set ``prerun: false`` (see below).
    """
    if scenario_config(scenario).get('prerun') is not False:
        # molecule's prerun installs the collection into ~/.ansible/collections, where it would
        # shadow the staged copy (ANSIBLE_COLLECTIONS_PATH) in this run and in every later test
        raise ValueError('%s/molecule.yml must set "prerun: false"' % scenario_dir(scenario))
    commands = [['test']] if commands is None else list(commands)
    lines = []
    # the lock first: a second run of the same scenario must not truncate the log of the first
    with _MachineLock(timeout if lock_timeout is None else lock_timeout), \
            open(log_path(scenario), 'w', encoding='utf-8') as log:
        write_lock = threading.Lock()

        def write(text):
            with write_lock:
                lines.append(text)
                log.write(text)
                log.flush()

        started = time.monotonic()
        deadline = started + timeout
        returncode, timed_out = 0, False
        for command in commands:
            returncode, timed_out = _run_one(_argv(scenario, command), env, deadline, started, write)
            if returncode != 0:
                break
        if timed_out:
            write('*** timeout after %ds: molecule destroy\n' % timeout)
            _run_one(_argv(scenario, 'destroy'), env, time.monotonic() + 300, started, write)
        seconds = time.monotonic() - started
        write('*** %s: rc=%d in %.1fs\n' % (' / '.join(_argv(scenario, c)[1] for c in commands), returncode, seconds))
    return MoleculeRun(''.join(lines), returncode, seconds)


def _tail(output: str, chars: int = 6000) -> str:
    return output[-chars:]


def assert_sequence_successful(scenario: str, output: str, returncode: int = 0, steps: Optional[Sequence[str]] = None):
    """``returncode`` is 0 and every step (default: the scenario's test_sequence) logged
    ``[SCENARIO > STEP] Executed: Successful`` as often as it appears in the sequence."""
    where = log_path(scenario)
    assert returncode == 0, 'molecule (%s) failed, rc=%d, log %s; end of output:\n%s' % (
        scenario, returncode, where, _tail(output))
    wanted = collections.Counter(scenario_sequence(scenario) if steps is None else steps)
    missing = []
    for step, count in wanted.items():
        pattern = r'\[%s > %s\] Executed: Successful' % (re.escape(scenario), re.escape(step))
        seen = len(re.findall(pattern, output))
        if seen < count:
            missing.append('%s (%d of %d)' % (step, seen, count))
    assert not missing, 'molecule (%s): steps not run successfully: %s; log %s' % (
        scenario, ', '.join(missing), where)


def assert_no_secrets(scenario: str, output: str, secrets: Iterable[str]):
    """None of ``secrets`` appears in ``output`` (the message names their indexes, never them)."""
    secrets = list(secrets)
    assert all(secrets), 'empty secret given to assert_no_secrets'
    leaked = [index for index, secret in enumerate(secrets) if secret in output]
    assert not leaked, 'molecule (%s): secret(s) #%s of %d appear in the output: see %s' % (
        scenario, leaked, len(secrets), log_path(scenario))
