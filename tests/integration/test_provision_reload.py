"""Reloads (issue 10): a rotation reaches the programs that use the credentials, not only the files.

Four "hosts", each a real unix user of this machine with a long-running boto3 client started as that user
(``reload_helpers/s3_client.py``): it reads the rendered aws profile at start and again only when its reload
command tells it to (SIGHUP, then it confirms with a request made with what it read), and makes S3 requests against
the emulator without pause for the whole test. The hosts' credentials name that reload command (as the user on
three hosts, as root on one), two also the play's handler.

One scenario, to keep CI time low (four playbook runs on one stack):

1. a first provision with the role's main entry point in a play whose handler listens to "r2 credentials
   changed": the handler gets which credentials changed and whose, no secret;
2. the rotate playbook under load, with the reload of one host (web4) failing: web1 to web3 rotate (new token,
   client reloaded, old token deleted); web4 fails with a message naming the reload, keeps its old token (and the
   new one, which its files hold), and its client goes on working with the old secret;
3. a rotation in check mode reports the reloads it would run (web1 to web3) and the one it would run again first
   (web4), and runs, writes and makes nothing;
4. once web4's reload works again, a provision run reloads it before anything else and only then finishes its
   rotation.

Across all of it, no client request fails: the number of failed requests is asserted to be 0 and printed with the
request total.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import tempfile
import time

import pytest
import yaml

from harness import paths, unix_users

pytestmark = pytest.mark.skipif(not unix_users.available(), reason='needs root and useradd (real unix users)')

HOST_PYTHON = '/usr/bin/python3'   # the hosts' own Python: the host-side modules need only the standard library
HELPERS = pathlib.Path(__file__).parent / 'reload_helpers'
BUCKET = 'reload-bucket'
HOSTS = ('web1', 'web2', 'web3', 'web4')


@pytest.fixture
def work():
    """A folder the hosts' users can reach (pytest's tmp_path is root's only), with the helper scripts."""
    folder = pathlib.Path(tempfile.mkdtemp(prefix='r2-reload-', dir='/tmp'))
    os.chmod(str(folder), 0o755)
    for script in ('s3_client.py', 'reload_client.py'):
        shutil.copy(str(HELPERS / script), str(folder / script))
        os.chmod(str(folder / script), 0o644)
    yield folder
    shutil.rmtree(str(folder), ignore_errors=True)


def inventory(tmp_path, cf, hosts):
    variables = {
        'ansible_connection': 'local', 'ansible_python_interpreter': HOST_PYTHON,
        'provision_account_id': cf.account_id, 'provision_api_url': cf.api_url,
        'provision_endpoint_overrides': cf.s3_endpoints, 'provision_check_retries': 2, 'provision_check_delay': 1,
    }
    path = tmp_path / 'inventory.yml'
    path.write_text(yaml.safe_dump({'r2_clients': {'hosts': hosts, 'vars': variables}}))
    return ['-i', str(path)]


def read_json(path, default=None):
    try:
        return json.loads(pathlib.Path(path).read_text())
    except (OSError, ValueError):
        return default


def generation(state):
    """(generation, key id) the client of ``state`` confirmed last, or (0, None)."""
    try:
        number, key_id = (pathlib.Path(state) / 'generation').read_text().split()
        return int(number), key_id
    except (OSError, ValueError):
        return 0, None


def wait_for(predicate, what, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError('timed out waiting for %s' % what)


def tokens_by_name(cf):
    return dict((t['name'], t['id']) for t in cf.tokens() if t['owner'] == 'account')


def test_rotation_under_load_reaches_every_client_and_a_failed_reload_keeps_the_old_token(
        cf, run_playbook, tmp_path, work):
    cf.create_bucket(BUCKET)
    handler_dir = tmp_path / 'handler'
    handler_dir.mkdir()
    clients = {}
    with unix_users.users('r2rl', HOSTS) as users:
        hosts, states = {}, {}
        for host in HOSTS:
            entry = users[host]
            state = work / host
            state.mkdir()
            os.chown(str(state), entry.pw_uid, entry.pw_gid)
            os.chmod(str(state), 0o700)
            states[host] = state
            # as root on web2 only to cover run_as root: a real reload that reads a pid file of the user's runs as
            # the user (root would signal whatever pid the user wrote there)
            reload = {'name': 'client', 'command': [HOST_PYTHON, str(work / 'reload_client.py'), str(state)],
                      'run_as': 'root' if host == 'web2' else 'user'}
            reloads = [reload] + ([{'handler': True}] if host in ('web1', 'web3') else [])
            hosts[host] = {'provision_user': entry.pw_name, 'provision_credentials': [
                {'name': 'media', 'permission': 'object_read_only', 'buckets': [BUCKET], 'reload': reloads}]}
        args = inventory(tmp_path, cf, hosts)

        # 1. first provision: the reloads run (no client yet: nothing to reload), the handler learns what changed
        first = run_playbook('reload_provision', args=args, extra_vars={'handler_dir': str(handler_dir)}, timeout=240)
        assert first.rc == 0, first.describe()[-4000:]
        for host in HOSTS:
            assert 'reload client (as %s) succeeded for media' % (
                'root' if host == 'web2' else users[host].pw_name) in first.output, first.output[-4000:]
        created = tokens_by_name(cf)
        told = dict((p.stem, json.loads(p.read_text())) for p in handler_dir.iterdir())
        assert sorted(told) == ['web1', 'web3'], sorted(told)   # only the credentials that name the handler
        for host, changed in told.items():
            home = users[host].pw_dir
            assert changed == [{'name': 'media', 'type': 'token', 'user': users[host].pw_name, 'profile': 'media',
                                'action': 'created', 'access_key_id': created['ansible:%s/media' % host],
                                'expiration': None,
                                'files': {'aws_config': home + '/.aws/config',
                                          'aws_credentials': home + '/.aws/credentials',
                                          'rclone': home + '/.config/rclone/rclone.conf'}}], changed
        assert 'r2 credentials changed: media (user %s, created)' % users['web1'].pw_name in first.output

        # the clients, one per host, as its user, from now on without pause
        for host in HOSTS:
            clients[host] = unix_users.start_as(
                users[host], [paths.clients_python(), str(work / 's3_client.py'), str(states[host]), 'media', BUCKET],
                stdout=open(str(states[host] / 'client.log'), 'w'), stderr=open(str(states[host] / 'client.err'), 'w'))
        try:
            for host in HOSTS:
                wait_for(lambda h=host: generation(states[h]) == (1, created['ansible:%s/media' % h]),
                         'the client of %s' % host)

            # 2. the rotation under load; web4's reload fails
            (states['web4'] / 'refuse').write_text('')
            before = dict((h, read_json(states[h] / 'stats.json', {}).get('requests', 0)) for h in HOSTS)
            rotated = run_playbook('rotate_fleet', args=args, timeout=300, verbosity=1)
            during = dict((h, read_json(states[h] / 'stats.json', {}).get('requests', 0) - before[h]) for h in HOSTS)
            assert rotated.rc != 0
            recap = rotated.recap
            assert [recap[h]['failed'] for h in HOSTS] == [0, 0, 0, 1], recap
            fatal = [line for line in rotated.output.splitlines() if line.startswith('fatal: [web4]')]
            assert len(fatal) == 1, fatal
            assert ('web4: reload client (as %s) for media failed: exit status 1; its last output: reload refused: '
                    % users['web4'].pw_name) in fatal[0], fatal[0]
            assert 'their old token stays' in fatal[0] and 'the next run runs the reloads again' in fatal[0]
            tokens = tokens_by_name(cf)
            for host in ('web1', 'web2', 'web3'):
                name = 'ansible:%s/media' % host
                assert name + '~next' not in tokens and tokens[name] != created[name], tokens
                # the client uses the new key, confirmed by a request made with it
                assert generation(states[host]) == (2, tokens[name])
            # web4: the old token stays (its client still uses it), and the new one its files hold
            assert tokens['ansible:web4/media'] == created['ansible:web4/media']
            assert generation(states['web4']) == (1, created['ansible:web4/media'])
            assert 'ansible:web4/media~next' in tokens

            # 3. check mode, with web4's copy still to be reloaded: which reloads another rotation would run on
            # web1 to web3, and that web4's would run again first; nothing run, written or made
            predicted = run_playbook('provision_fleet', args=args, check=True, extra_vars={'provision_mode': 'rotate'},
                                     timeout=180)
            assert predicted.rc == 0, predicted.describe()[-4000:]
            for host in ('web1', 'web2', 'web3'):
                who = 'root' if host == 'web2' else users[host].pw_name
                assert 'reload client (as %s) would run for media' % who in predicted.output, predicted.output[-4000:]
            assert ('reloads of copies an earlier run wrote, run again first: web4: reload client (as %s) would run '
                    'for media' % users['web4'].pw_name) in predicted.output, predicted.output[-4000:]
            assert tokens_by_name(cf) == tokens
            assert [generation(states[h])[0] for h in HOSTS] == [2, 2, 2, 1]

            # 4. the reload works again: the next run reloads web4's client first, then finishes its rotation
            (states['web4'] / 'refuse').unlink()
            finished = run_playbook('provision_fleet', args=args, timeout=240, verbosity=1)
            assert finished.rc == 0, finished.describe()[-4000:]
            assert ('reloads of copies an earlier run wrote, run again first: web4: reload client (as %s) succeeded '
                    'for media' % users['web4'].pw_name) in finished.output, finished.output[-4000:]
            after = tokens_by_name(cf)
            assert after['ansible:web4/media'] == tokens['ansible:web4/media~next']
            assert 'ansible:web4/media~next' not in after
            assert generation(states['web4']) == (2, after['ansible:web4/media'])
            time.sleep(1)   # a few more requests with every key after the last deletion
        finally:
            for proc in clients.values():
                proc.terminate()
            for proc in clients.values():
                proc.wait(timeout=30)

        stats = dict((h, read_json(states[h] / 'stats.json')) for h in HOSTS)
        total = sum(s['requests'] for s in stats.values())
        failed = [(h, f) for h, s in stats.items() for f in s['failures']]
        print('\nplaybook runs: %s' % ', '.join('%s %.1f s' % (label, run.elapsed) for label, run in (
            ('provision', first), ('rotate', rotated), ('check', predicted), ('finish', finished))))
        print('\nrotation under load: %d S3 requests by %d clients (%s during the rotate playbook), %d failed'
              % (total, len(HOSTS), ', '.join('%s %d' % (h, during[h]) for h in HOSTS), len(failed)))
        assert failed == [], failed
        # every client kept making requests through the rotation, with the old key and then with the new one
        assert all(during[h] >= 20 for h in HOSTS), during
        for host in HOSTS:
            keys = [key for dummy, key, dummy2 in stats[host]['generations']]
            assert keys == [created['ansible:%s/media' % host], after['ansible:%s/media' % host]], (host, keys)
        secrets = cf.issued_secrets()
        assert secrets
        for result in (first, rotated, predicted, finished):
            assert not [s for s in secrets if s in result.output]
        for host in HOSTS:
            log = (states[host] / 'client.err').read_text()
            assert not [s for s in secrets if s in log]
