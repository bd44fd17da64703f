"""The provision role and the provision/rotate/revoke playbooks through their molecule scenario.

Four real unix users on this machine are the hosts (two reached with ``su``, one through an sshd on
127.0.0.3, one written for by root); the Cloudflare API is the emulator behind the Prism contract check
(the ``cf`` fixture), and the hosts' S3 endpoints are the emulator's, through the role's endpoint overrides.

Steps: create, prepare, check mode, converge at -vvvv, idempotence, verify (modes, owners, foreign profiles,
real clients allowed and refused per host), side_effect (one host loses its files and gets them back while the
others stay unchanged; rotation proved with the old and new secrets; revocation), destroy. Then:

- no secret the emulator handed out during the run (token values, S3 secrets, temporary credentials) appears
  anywhere in the output, -vvvv converge included;
- the first run made exactly one write per credential, and the converged run made at most ceil(T/50) + 2
  API requests (T = tokens in the account), read from the reconcile's own report.

Needs root, useradd, openssh-server, rclone, s3cmd and the clients venv (scripts/bootstrap.sh). Run by
``scripts/test.sh molecule``; by hand:
``cd tests/integration && ../../.venv/bin/python -m pytest -p conftest ../../extensions/molecule/provision/run_scenario.py``.
The log is tests/output/integration/provision/molecule.log.
"""

from __future__ import annotations

import json
import math
import re
import socket

import pytest

from harness import molecule

SCENARIO = 'provision'
BUCKETS = (('pv-media', 'eu'), ('pv-private', 'eu'), ('pv-logs', 'default'), ('pv-fed', 'fedramp'))
HOSTS = 4
TOKENS = 4        # one long-lived token per host
TEMPORARY = 2     # alice's and bob's temporary credentials
STEPS = ['destroy', 'create', 'prepare', 'check', ['converge', '--', '-vvvv'], 'idempotence', 'verify',
         'side-effect', 'destroy']
REPORT = re.compile(r'"msg": "(\d+) host\(s\): ([^;]*); Cloudflare API requests ([^"]*)"')


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _step_output(output: str, step: str, occurrence: int = 0) -> str:
    """The output of one molecule command (``$ molecule STEP -s provision ...`` up to the next ``$ molecule``)."""
    parts = re.split(r'(?m)^\$ molecule ', output)
    matching = [p for p in parts if p.startswith(step + ' ')]
    assert len(matching) > occurrence, 'no output of molecule %s' % step
    return matching[occurrence]


def _reports(text: str) -> list:
    """The reconcile's reports in some output: [(hosts, {action: n}, {method: n})]."""
    out = []
    for hosts, actions, requests in REPORT.findall(text):
        pairs = [a.split(' ') for a in actions.split(', ') if ' ' in a]
        out.append((int(hosts), dict((k, int(v)) for k, v in pairs),
                    dict((k, int(v)) for k, v in (r.split(' ') for r in requests.split(', ')))))
    return out


@pytest.fixture
def scenario_env(cf, collections_path):
    molecule.require_machine(SCENARIO)
    for name, jurisdiction in BUCKETS:
        cf.create_bucket(name, jurisdiction)
    return molecule.scenario_env(collections_path, {
        'CLOUDFLARE_API_URL': cf.api_url,
        'CLOUDFLARE_API_TOKEN': cf.bootstrap_token,
        'CLOUDFLARE_ACCOUNT_ID': cf.account_id,
        'R2_ENDPOINT_OVERRIDES': json.dumps(cf.s3_endpoints),
        'R2PV_SSH_PORT': str(_free_port('127.0.0.3')),
    })


def test_molecule_provision(cf, scenario_env):
    output, returncode, seconds = molecule.run(SCENARIO, scenario_env, STEPS, timeout=1500)
    print('molecule -s %s: rc=%d in %.0fs, log %s' % (SCENARIO, returncode, seconds, molecule.log_path(SCENARIO)))
    if returncode != 0:
        # a failed step stops the sequence: remove the users and the sshd all the same
        with open(molecule.log_path(SCENARIO) + '.failed', 'w', encoding='utf-8') as handle:
            handle.write(output)
        molecule.run(SCENARIO, scenario_env, ['destroy'], timeout=300)

    issued = cf.issued_secrets()
    molecule.assert_no_secrets(SCENARIO, output, issued)
    molecule.assert_sequence_successful(SCENARIO, output, returncode,
                                        steps=[(s if isinstance(s, str) else s[0]).replace('-', '_') for s in STEPS])
    # first run, rotation (new tokens, new temporary credentials), restore: all of them were scanned
    assert len(issued) >= 2 * (2 * TOKENS + 2 * TEMPORARY), 'fewer secrets issued than the scenario makes'

    first = _reports(_step_output(output, 'converge'))
    assert len(first) == 1, first
    hosts, actions, requests = first[0]
    assert hosts == HOSTS and actions == {'created': TOKENS, 'minted': TEMPORARY}, first
    writes = sum(n for method, n in requests.items() if method in ('POST', 'PUT', 'PATCH', 'DELETE'))
    assert writes == TOKENS + TEMPORARY, 'first run: %d writes for %d new credentials' % (writes, TOKENS + TEMPORARY)

    converged = _reports(_step_output(output, 'idempotence'))
    assert len(converged) == 1, converged
    hosts, actions, requests = converged[0]
    budget = math.ceil(TOKENS / 50) + 2
    assert actions == {'unchanged': TOKENS, 'kept': TEMPORARY}, converged
    assert requests['total'] <= budget and set(requests) == {'GET', 'total'}, (
        'converged run: %s requests, budget %d' % (requests, budget))
