"""The provision playbook on hosts whose own users attack it (real unix users on this machine).

Each "host" is a unix user of this machine, reached with the local connection: either root writes its files
(provision_user = the user) or the play becomes the user (su). The users plant links, hard links and FIFOs where
the role writes and reads, or a second user watches the home while a run writes, trying to open every new file
and to plant links in every new folder. What must hold:

- root-owned targets are byte-identical afterwards, with the same owner and mode;
- the attacked host fails with one clear refusal naming the user and the path (nothing is written for it and
  no token is made), while the other hosts of the run are provisioned;
- no other local user ever opens a file holding a secret or gets a link into a client folder, whatever the
  umask; files are 0600 and folders 0700.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import stat
import tempfile
import textwrap
import time

import pytest
import yaml

from harness import unix_users

pytestmark = pytest.mark.skipif(not unix_users.available(), reason='needs root and useradd (real unix users)')

CREDENTIAL = {'name': 'media', 'permission': 'object_read_only', 'buckets': ['hostile-bucket']}
FULL = dict(CREDENTIAL, s3cmd=True, env_file=True)
HOST_PYTHON = '/usr/bin/python3'   # the hosts' own Python: the host-side modules need only the standard library


def inventory(tmp_path, cf, hosts, mode):
    """Local hosts, one unix user each: root writes for the user ('root') or the play becomes it ('become')."""
    variables = {
        'ansible_connection': 'local', 'ansible_python_interpreter': HOST_PYTHON,
        'provision_account_id': cf.account_id, 'provision_api_url': cf.api_url,
        'provision_endpoint_overrides': cf.s3_endpoints, 'provision_check_retries': 2, 'provision_check_delay': 1,
    }
    for host_vars in hosts.values():
        if mode == 'become':
            host_vars.update(ansible_become=True, ansible_become_method='ansible.builtin.su',
                             ansible_become_user=host_vars['provision_user'])
    path = tmp_path / 'inventory.yml'
    path.write_text(yaml.safe_dump({'r2_clients': {'hosts': hosts, 'vars': variables}}))
    return ['-i', str(path)]


@pytest.fixture
def root_targets(tmp_path):
    """Root-owned things a hostile user would like root to write, chown or read."""
    base = tmp_path / 'root-owned'
    base.mkdir()
    os.chmod(str(base), 0o755)
    (base / 'folder').mkdir()
    (base / 'folder' / 'keep').write_text('root folder content\n')
    (base / 'config-folder').mkdir()
    (base / 'secret').write_text('DATABASE_URL=postgres://app:%s@db/app\n' % ('p' + os.urandom(16).hex()))
    os.chmod(str(base / 'secret'), 0o600)
    (base / 'shared').write_text('[shared]\nk = v\n')
    return base


def plant(entry, root_targets, attack):
    """Set up ``attack`` in the home of ``entry``, as that user would (a hard link of a group-shared root file is
    possible even with protected_hardlinks=1, so root makes it here)."""
    home = entry.pw_dir

    def run(*argv):
        unix_users.run_as(entry, list(argv))
    if attack == 'aws-folder-link':
        run('ln', '-s', str(root_targets / 'folder'), home + '/.aws')
    elif attack == 'config-folder-link':
        run('ln', '-s', str(root_targets / 'config-folder'), home + '/.config')
    elif attack == 'credentials-link':
        run('mkdir', '-m', '700', home + '/.aws')
        run('ln', '-s', str(root_targets / 'secret'), home + '/.aws/credentials')
    elif attack == 'dangling-link':
        run('mkdir', '-m', '700', home + '/.aws')
        run('ln', '-s', home + '/not-there', home + '/.aws/credentials')
    elif attack == 'zero-link':
        run('mkdir', '-m', '700', home + '/.aws')
        run('ln', '-s', '/dev/zero', home + '/.aws/config')
    elif attack == 'fifo':
        run('mkdir', '-m', '700', home + '/.aws')
        run('mkfifo', home + '/.aws/credentials')
    elif attack == 'hard-link':
        run('mkdir', '-m', '700', home + '/.aws')
        shared = str(root_targets / 'shared')
        os.chown(shared, 0, entry.pw_gid)
        os.chmod(shared, 0o660)
        os.link(shared, home + '/.aws/credentials')
    else:
        raise ValueError(attack)


ATTACKS = ['aws-folder-link', 'config-folder-link', 'credentials-link', 'dangling-link', 'zero-link', 'fifo',
           'hard-link']
# where each attack is met (every one is found by inspect, before any token is made)
MET_AT = {'aws-folder-link': '/.aws', 'config-folder-link': '/.config', 'credentials-link': '/.aws/credentials',
          'dangling-link': '/.aws/credentials', 'zero-link': '/.aws/config', 'fifo': '/.aws/credentials',
          'hard-link': '/.aws/credentials'}


@pytest.mark.parametrize('mode', ['root', 'become'])
def test_planted_links_fifos_and_hard_links_are_refused_and_the_other_hosts_provisioned(
        cf, run_playbook, tmp_path, root_targets, mode):
    cf.create_bucket('hostile-bucket')
    names = ['good'] + [a.replace('-', '')[:12] for a in ATTACKS]
    with unix_users.users('r2h' + mode[0], names) as users:
        hosts = {'good': {'provision_user': users['good'].pw_name, 'provision_credentials': [CREDENTIAL]}}
        for attack, name in zip(ATTACKS, names[1:]):
            plant(users[name], root_targets, attack)
            hosts[attack] = {'provision_user': users[name].pw_name, 'provision_credentials': [CREDENTIAL]}
        before = unix_users.snapshot(str(root_targets))
        cf.reset_stats()
        result = run_playbook('provision_fleet', args=inventory(tmp_path, cf, hosts, mode), timeout=300, verbosity=1)

        assert unix_users.snapshot(str(root_targets)) == before, 'a root-owned target changed'
        recap = result.recap
        assert recap['good']['failed'] == 0 and recap['good']['changed'] > 0, result.describe()[-4000:]
        for attack, name in zip(ATTACKS, names[1:]):
            entry = users[name]
            assert recap[attack]['failed'] == 1, (attack, recap[attack])
            # one refusal, naming the host (Ansible's prefix), the user and the path
            lines = [line for line in result.output.splitlines() if line.startswith('fatal: [%s]' % attack)]
            assert len(lines) == 1, (attack, lines)
            assert 'user %s: ' % entry.pw_name in lines[0] and entry.pw_dir + MET_AT[attack] in lines[0], lines[0]
            assert 'refus' in lines[0], lines[0]
            # nothing of ours was written for the attacked user
            assert not os.path.exists(entry.pw_dir + '/.config/rclone/rclone.conf') or attack == 'config-folder-link'
        # the attacked hosts failed in inspect: no token was made for them
        assert sorted(t['name'] for t in cf.tokens() if t['owner'] == 'account') == ['ansible:good/media']
        good = users['good']
        credentials = os.stat(good.pw_dir + '/.aws/credentials')
        assert (credentials.st_uid, stat.S_IMODE(credentials.st_mode)) == (good.pw_uid, 0o600)
        assert stat.S_IMODE(os.stat(good.pw_dir + '/.aws').st_mode) == 0o700
        secrets = cf.issued_secrets()
        assert secrets and not [s for s in secrets if s in result.output]
        # nothing of the root-only file behind the link left the host, not even at -v
        foreign = (root_targets / 'secret').read_text().split('app:')[1].split('@')[0]
        assert foreign not in result.output
        # each host finished in time: a FIFO or /dev/zero never made a module hang or read without end
        assert not result.timed_out


WATCHER = textwrap.dedent('''
    import json, os, sys, time
    home, canary, stop, out = sys.argv[1:5]
    opened, planted, passes = {}, [], 0
    deadline = time.monotonic() + 600
    while not os.path.exists(stop) and time.monotonic() < deadline:
        passes += 1
        for root, dirs, files in os.walk(home):
            try:
                os.symlink(canary, os.path.join(root, '.mallory-%d' % passes))
                planted.append(root)
            except OSError:
                pass
            for name in files:
                path = os.path.join(root, name)
                try:
                    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
                except OSError:
                    continue
                try:
                    opened[path] = os.read(fd, 1 << 20).decode('utf-8', 'replace')
                except OSError:
                    pass
                finally:
                    os.close(fd)
    with open(out, 'w') as handle:
        json.dump({'opened': opened, 'planted': planted, 'passes': passes}, handle)
''')


@pytest.fixture
def watch_dir():
    """Where the watcher can read its script and the canary (pytest's tmp_path is root's only)."""
    work = pathlib.Path(tempfile.mkdtemp(prefix='r2-watch-', dir='/tmp'))
    os.chmod(str(work), 0o755)
    yield work
    shutil.rmtree(str(work), ignore_errors=True)


@pytest.mark.parametrize('mode, umask', [('root', 0o000), ('root', 0o077), ('become', 0o000), ('become', 0o077)])
def test_another_local_user_never_opens_a_secret_nor_plants_a_link(cf, run_playbook, tmp_path, watch_dir, mode,
                                                                   umask):
    cf.create_bucket('hostile-bucket')
    work = watch_dir
    canary = work / 'canary'
    canary.write_text('canary\n')
    script = work / 'watch.py'
    script.write_text(WATCHER)
    os.chmod(str(script), 0o644)
    os.chmod(str(canary), 0o644)
    with unix_users.users('r2w%s%o' % (mode[0], umask), ['victim', 'mallory']) as users:
        victim, mallory = users['victim'], users['mallory']
        hosts = {'victim': {'provision_user': victim.pw_name, 'provision_credentials': [FULL]}}
        seen_dir = work / 'seen'
        seen_dir.mkdir()
        os.chown(str(seen_dir), mallory.pw_uid, mallory.pw_gid)
        stop, out = str(work / 'stop'), str(seen_dir / 'seen.json')
        watcher = unix_users.start_as(mallory, [HOST_PYTHON, str(script), victim.pw_dir, str(canary), stop, out])
        old = os.umask(umask)
        try:
            time.sleep(0.5)
            first = run_playbook('provision_fleet', args=inventory(tmp_path, cf, hosts, mode), timeout=240)
            rotated = run_playbook('provision_fleet', args=inventory(tmp_path, cf, hosts, mode), timeout=240,
                                   extra_vars={'provision_mode': 'rotate'})
        finally:
            os.umask(old)
            with open(stop, 'w'):
                pass
            watcher.wait(timeout=120)
        assert first.rc == 0, first.describe()[-4000:]
        assert rotated.rc == 0, rotated.describe()[-4000:]
        seen = json.loads(open(out).read())
        assert seen['passes'] > 10, seen['passes']
        # the watcher works: it opened the victim's world-readable dotfiles
        assert any(path.endswith('/.profile') for path in seen['opened']), sorted(seen['opened'])
        secrets = cf.issued_secrets()
        assert len(secrets) >= 4
        leaked = [path for path, text in seen['opened'].items() if any(s in text for s in secrets)]
        assert leaked == [], leaked
        assert seen['planted'] == [], seen['planted']
        for root, dirs, files in os.walk(victim.pw_dir):
            for name in dirs + files:
                path = os.path.join(root, name)
                st = os.lstat(path)
                assert not stat.S_ISLNK(st.st_mode), path
                if name.startswith(('.aws', '.config', 'rclone', 'r2', 'config', 'credentials', 'rclone.conf',
                                    '.s3cfg', 'media.env')):
                    assert st.st_uid == victim.pw_uid, path
                    expected = 0o700 if stat.S_ISDIR(st.st_mode) else 0o600
                    assert stat.S_IMODE(st.st_mode) == expected, (path, oct(st.st_mode))
        assert canary.read_text() == 'canary\n'
