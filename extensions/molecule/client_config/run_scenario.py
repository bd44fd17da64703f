"""The client_config role through its molecule scenario (extensions/molecule/client_config).

Runs ``molecule test -s client_config``: four real unix users on this machine (two reached with
``su``, one through an sshd on 127.0.0.2, one written for by root), check mode, converge,
idempotence, the real clients reading the files, then state=absent. Fake credentials are
generated per run (long and random, so that no_log masking by value is really exercised) and
the whole molecule output is scanned for them.

Needs root, useradd and openssh-server; takes about two to three minutes. Run it with
``cd tests/integration && ../../.venv/bin/python -m pytest ../../extensions/molecule/client_config/run_scenario.py``.
Not yet part of scripts/test.sh: its verify step runs the venv's aws CLI as the unprivileged test
users, which needs the venv readable by them (not true for a clone under /root); issue 4 wires it
into CI together with real S3 calls. The full log is tests/output/integration/client_config/molecule.log.
"""

from __future__ import annotations

import fcntl
import os
import re
import secrets
import shutil
import socket
import subprocess
import time

import pytest
import yaml

from harness import paths

SCENARIO = 'client_config'
TIMEOUT = 900


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _fake_credentials() -> dict:
    return {'r2cc_fake': {
        # shaped like R2 credentials: token id, SHA-256 hex, a long session token
        'access_key_ids': [secrets.token_hex(16) for unused in range(3)],
        'secret_access_keys': [secrets.token_hex(32) for unused in range(3)],
        'session_token': secrets.token_urlsafe(96),
    }}


@pytest.fixture
def molecule_env(collections_path, tmp_path):
    if os.geteuid() != 0:
        pytest.skip('the client_config scenario creates unix users: run as root')
    missing = [cmd for cmd in ('useradd', 'userdel', 'ssh-keygen', 'rclone', 's3cmd') if not shutil.which(cmd)]
    if not os.path.exists('/usr/sbin/sshd'):
        missing.append('sshd (openssh-server)')
    assert not missing, 'missing on this machine (scripts/bootstrap.sh installs them): %s' % ', '.join(missing)
    fake = _fake_credentials()
    secrets_file = tmp_path / 'fake-secrets.yml'
    secrets_file.write_text(yaml.safe_dump(fake))
    secrets_file.chmod(0o600)
    env = dict(os.environ)
    env.update({
        'PATH': paths.venv_bin() + os.pathsep + env.get('PATH', ''),
        'ANSIBLE_COLLECTIONS_PATH': collections_path,
        'R2CC_SECRETS_FILE': str(secrets_file),
        'R2CC_SSH_PORT': str(_free_port('127.0.0.2')),
        'NO_COLOR': '1', 'PY_COLORS': '0', 'ANSIBLE_NOCOLOR': '1', 'ANSIBLE_FORCE_COLOR': '0',
    })
    env.pop('MOLECULE_GLOB', None)
    values = fake['r2cc_fake']
    return env, values['secret_access_keys'] + [values['session_token']]


def _run_molecule(env):
    """Run the scenario; returns (output, rc, seconds). Step lines get the elapsed time, for the log."""
    started = time.monotonic()
    lines = []
    with subprocess.Popen(['molecule', 'test', '-s', SCENARIO], cwd=paths.REPO, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, universal_newlines=True) as proc:
        try:
            for line in proc.stdout:
                if re.search(r'\] (Executing|Executed)', line):
                    line = '[+%5.1fs] %s' % (time.monotonic() - started, line)
                lines.append(line)
                if time.monotonic() - started > TIMEOUT:
                    proc.kill()
                    lines.append('*** killed after %ds\n' % TIMEOUT)
                    break
        finally:
            returncode = proc.wait()
    return ''.join(lines), returncode, time.monotonic() - started


def test_molecule_client_config(molecule_env):
    env, fake_secrets = molecule_env
    log_path = os.path.join(paths.output_dir('client_config'), 'molecule.log')
    # one run at a time on a machine: the scenario's users and sshd are global
    with open('/tmp/r2cc-molecule.lock', 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        output, returncode, elapsed = _run_molecule(env)
    with open(log_path, 'w') as handle:
        handle.write(output)
    print('molecule test -s %s: rc=%d in %.0fs, log %s' % (SCENARIO, returncode, elapsed, log_path))

    leaked = [index for index, secret in enumerate(fake_secrets) if secret in output]
    assert not leaked, 'fake secret(s) #%s appear in the molecule output: see %s' % (leaked, log_path)
    assert returncode == 0, 'molecule test failed (rc=%d), log %s; end of output:\n%s' % (
        returncode, log_path, output[-6000:])
    for step in ('create', 'prepare', 'check', 'converge', 'idempotence', 'verify', 'side_effect', 'destroy'):
        assert re.search(r'%s.{1,5}%s\b.*Executed: Successful' % (SCENARIO, step), output), \
            'step %s did not run successfully; log %s' % (step, log_path)
    # the diffs were shown (ANSIBLE_DIFF_ALWAYS in molecule.yml) with the secrets masked
    assert re.search(r'\+aws_secret_access_key = \*{8}', output), 'no masked secret in the converge diff'
    assert re.search(r'\+aws_session_token = \*{8}', output), 'no masked session token in the converge diff'
