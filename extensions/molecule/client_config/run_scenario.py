"""The client_config role through its molecule scenario (extensions/molecule/client_config).

Runs ``molecule test -s client_config`` through ``harness.molecule``: four real unix users on this
machine (two reached with ``su``, one through an sshd on 127.0.0.2, one written for by root),
check mode, converge, idempotence, the real clients reading the files as the users (the aws CLI
and botocore of the world-readable clients venv, ``R2_CLIENTS_VENV``), then state=absent. Fake
credentials are generated per run (long and random, so that no_log masking by value is really
exercised) and the whole molecule output is scanned for them.

Needs root, useradd, openssh-server and the clients venv (``scripts/bootstrap.sh`` installs them);
takes about two to three minutes. ``scripts/test.sh molecule`` runs it; by hand:
``cd tests/integration && ../../.venv/bin/python -m pytest -p conftest ../../extensions/molecule/client_config/run_scenario.py``
(``-p conftest``: the fixtures of tests/integration/conftest.py, which pytest does not load on its
own for a test file outside tests/integration).
The full log is tests/output/integration/client_config/molecule.log.
"""

from __future__ import annotations

import re
import secrets
import socket

import pytest
import yaml

from harness import molecule

SCENARIO = 'client_config'


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
    molecule.require_machine(SCENARIO)
    fake = _fake_credentials()
    secrets_file = tmp_path / 'fake-secrets.yml'
    secrets_file.write_text(yaml.safe_dump(fake))
    secrets_file.chmod(0o600)
    env = molecule.scenario_env(collections_path, {
        'R2CC_SECRETS_FILE': str(secrets_file),
        'R2CC_SSH_PORT': str(_free_port('127.0.0.2')),
    })
    values = fake['r2cc_fake']
    return env, values['secret_access_keys'] + [values['session_token']]


def test_molecule_client_config(molecule_env):
    env, fake_secrets = molecule_env
    output, returncode, seconds = molecule.run(SCENARIO, env)
    print('molecule test -s %s: rc=%d in %.0fs, log %s' % (SCENARIO, returncode, seconds, molecule.log_path(SCENARIO)))

    molecule.assert_no_secrets(SCENARIO, output, fake_secrets)
    molecule.assert_sequence_successful(SCENARIO, output, returncode)
    # the diffs were shown (ANSIBLE_DIFF_ALWAYS in molecule.yml) with the secrets masked
    assert re.search(r'\+aws_secret_access_key = \*{8}', output), 'no masked secret in the converge diff'
    assert re.search(r'\+aws_session_token = \*{8}', output), 'no masked session token in the converge diff'
