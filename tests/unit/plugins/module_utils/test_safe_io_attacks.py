# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""_safe_io against hostile local users: throwaway unix users (useradd) attack root's writes.

``r2sa_victim_<pid>`` owns the home the module writes into and plants links, hard links and FIFOs there,
or races the writes; ``r2sa_mallory_<pid>`` is another local user who polls the victim's tree for the
secret.  The hostile actions run in forked children that dropped to the user's uid/gid (setresgid,
setgroups([]), setresuid), so they have exactly that user's rights.  Needs root and useradd.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import fcntl
import os
import pickle
import pwd
import select
import shutil
import signal
import stat
import subprocess
import tempfile
import time

import pytest

from ansible_collections.cloudflare_r2.credentials.plugins.module_utils import _safe_io
from ansible_collections.cloudflare_r2.credentials.plugins.module_utils._safe_io import UnsafePath, UserTree

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.skipif(os.geteuid() != 0, reason='needs root: creates throwaway unix users with useradd'),
    pytest.mark.skipif(not shutil.which('useradd') or not shutil.which('userdel'), reason='needs useradd and userdel'),
]

PREFIX = 'r2sa_'
MARK = b'R2SA-ATTACK-SECRET'
ROOT_FILE = b'root file: must never change\n'
SHARED_FILE = b'group-shared root file: must never change\n'
LOCK = '/tmp/.r2sa-useradd.lock'


class Child(object):
    """A forked child running ``fn`` as uid/gid (or root if None) and sending back its pickled result."""

    def __init__(self, fn, uid=None, gid=None):
        self._read, write = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:  # pragma: no cover - child
            code = 1
            try:
                os.close(self._read)
                if uid is not None:
                    os.setgroups([])
                    os.setresgid(gid, gid, gid)
                    os.setresuid(uid, uid, uid)
                    assert os.getresuid() == (uid, uid, uid) and os.getresgid() == (gid, gid, gid)
                payload = pickle.dumps(('ok', fn()))
                code = 0
            except BaseException as exc:  # pylint: disable=broad-except
                payload = pickle.dumps(('error', '%s: %s' % (type(exc).__name__, exc)))
            try:
                while payload:
                    payload = payload[os.write(write, payload):]
            finally:
                os._exit(code)
        os.close(write)
        self.status = None

    def result(self, timeout=30):
        deadline = time.time() + timeout
        chunks = []
        try:
            while True:
                left = deadline - time.time()
                if left <= 0:
                    self.kill()
                    raise AssertionError('child %d did not finish within %ss' % (self.pid, timeout))
                if select.select([self._read], [], [], min(left, 0.5))[0]:
                    chunk = os.read(self._read, 65536)
                    if not chunk:
                        break
                    chunks.append(chunk)
        finally:
            self.kill()
            self.wait()
        kind, value = pickle.loads(b''.join(chunks))
        if kind != 'ok':
            raise AssertionError('child failed: %s' % value)
        return value

    def kill(self):
        if self.status is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except OSError:
                pass

    def wait(self):
        if self.status is None:
            self.status = os.waitpid(self.pid, 0)[1]
            os.close(self._read)
        return self.status


class User(object):
    def __init__(self, name, home):
        entry = pwd.getpwnam(name)
        self.name, self.uid, self.gid, self.home = name, entry.pw_uid, entry.pw_gid, home

    def run(self, fn, timeout=30):
        return Child(fn, self.uid, self.gid).result(timeout)

    def start(self, fn):
        return Child(fn, self.uid, self.gid)


def _locked(args):
    with open(LOCK, 'a') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            return subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                                  timeout=60, check=False)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _remove_user(name):
    _locked(['userdel', name])
    _locked(['groupdel', name])


def _remove_orphans():
    """Users of an earlier run of this file that was killed before its finalizer (its pid is gone)."""
    for entry in pwd.getpwall():
        if not entry.pw_name.startswith(PREFIX):
            continue
        pid = entry.pw_name.rsplit('_', 1)[-1]
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            _remove_user(entry.pw_name)
        except OSError:
            pass


@pytest.fixture(scope='module')
def world():
    """Two throwaway users with homes under a fresh /tmp folder, and root-owned targets next to them."""
    _remove_orphans()
    base = tempfile.mkdtemp(prefix='r2sa-attacks-', dir='/tmp')
    os.chmod(base, 0o755)
    created = []
    try:
        users = {}
        for role in ('victim', 'mallory'):
            name = '%s%s_%d' % (PREFIX, role, os.getpid())
            home = os.path.join(base, role)
            out = _locked(['useradd', '--no-create-home', '--home-dir', home, '--shell', '/usr/sbin/nologin',
                           '--user-group', name])
            if out.returncode != 0:
                pytest.skip('useradd %s failed: %s' % (name, out.stdout.strip()))
            created.append(name)
            users[role] = User(name, home)
            os.mkdir(home)
            os.chown(home, users[role].uid, users[role].gid)
        os.chmod(users['victim'].home, 0o755)
        os.chmod(users['mallory'].home, 0o700)
        root = os.path.join(base, 'root')
        os.mkdir(root, 0o755)
        rootdir = os.path.join(root, 'rootdir')
        os.mkdir(rootdir, 0o755)
        files = {
            'rootfile': (os.path.join(root, 'rootfile'), ROOT_FILE, 0, 0o644),
            'rootdir_credentials': (os.path.join(rootdir, 'credentials'), ROOT_FILE, 0, 0o644),
            'shared': (os.path.join(root, 'shared.conf'), SHARED_FILE, users['victim'].gid, 0o660),
        }
        for path, content, group, mode in files.values():
            with open(path, 'wb') as handle:
                handle.write(content)
            os.chown(path, 0, group)
            os.chmod(path, mode)
        yield {
            'base': base, 'victim': users['victim'], 'mallory': users['mallory'], 'root': root, 'rootdir': rootdir,
            'rootfile': files['rootfile'][0], 'shared': files['shared'][0],
            'watched': [root, rootdir] + [f[0] for f in files.values()],
        }
    finally:
        shutil.rmtree(base, ignore_errors=True)
        for name in created:
            _remove_user(name)


def _snapshot(paths):
    result = {}
    for path in paths:
        st = os.lstat(path)
        if stat.S_ISDIR(st.st_mode):
            content = sorted(os.listdir(path))
        else:
            with open(path, 'rb') as handle:
                content = handle.read()
        result[path] = (st.st_mode, st.st_uid, st.st_gid, st.st_ino, st.st_nlink if not stat.S_ISDIR(st.st_mode) else 0,
                        content)
    return result


def _wipe(home):
    for name in os.listdir(home):
        path = os.path.join(home, name)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.unlink(path)
    os.chmod(home, 0o755)


@pytest.fixture
def w(world):
    """The world with an empty victim home (0755) and a check that no root-owned target changed.

    The check runs after the victim's home is emptied again, so that it also proves no other hard link
    to a root-owned file is left anywhere."""
    home = world['victim'].home
    _wipe(home)
    stop = os.path.join(world['base'], 'stop')
    if os.path.exists(stop):
        os.unlink(stop)
    world['stop'] = stop
    before = _snapshot(world['watched'])
    yield world
    _wipe(home)
    assert _snapshot(world['watched']) == before, 'a root-owned target changed'


def _read(path):
    with open(path, 'rb') as handle:
        return handle.read()


def _secret_files_are_private(home, owners):
    """Every regular file below ``home`` holding the secret is 0600-ish (no group/other bits) and owned by ``owners``."""
    bad = []
    for folder, dirs, files in os.walk(home):
        for name in files:
            path = os.path.join(folder, name)
            st = os.lstat(path)
            if not stat.S_ISREG(st.st_mode):
                continue
            with open(path, 'rb') as handle:
                if MARK not in handle.read():
                    continue
            if st.st_mode & 0o077 or st.st_uid not in owners:
                bad.append((path, oct(st.st_mode), st.st_uid))
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(folder, d))]
    return bad


# ---------------------------------------------------------------- planted objects

def _plant_aws_link_to_root_folder(w):
    os.symlink(w['rootdir'], os.path.join(w['victim'].home, '.aws'))
    return '.aws/credentials'


def _plant_credentials_link_to_root_file(w):
    os.mkdir(os.path.join(w['victim'].home, '.aws'), 0o700)
    os.symlink(w['rootfile'], os.path.join(w['victim'].home, '.aws', 'credentials'))
    return '.aws/credentials'


def _plant_hard_link_of_shared_root_file(w):
    os.mkdir(os.path.join(w['victim'].home, '.aws'), 0o700)
    os.link(w['shared'], os.path.join(w['victim'].home, '.aws', 'credentials'))
    assert os.stat(w['shared']).st_nlink == 2
    return '.aws/credentials'


def _plant_config_link(w):
    os.symlink(w['rootdir'], os.path.join(w['victim'].home, '.config'))
    return '.config/rclone/rclone.conf'


def _plant_dangling_link(w):
    os.mkdir(os.path.join(w['victim'].home, '.aws'), 0o700)
    os.symlink(os.path.join(w['rootdir'], 'new-through-link'), os.path.join(w['victim'].home, '.aws', 'credentials'))
    return '.aws/credentials'


def _plant_fifo(w):
    os.mkdir(os.path.join(w['victim'].home, '.aws'), 0o700)
    os.mkfifo(os.path.join(w['victim'].home, '.aws', 'credentials'))
    return '.aws/credentials'


def _plant_s3cfg_link_in_home(w):
    os.symlink(w['rootfile'], os.path.join(w['victim'].home, '.s3cfg-backup'))
    return '.s3cfg-backup'


PLANTS = [
    ('~/.aws -> root folder', _plant_aws_link_to_root_folder),
    ('~/.aws/credentials -> root file', _plant_credentials_link_to_root_file),
    ('hard link of a group-shared root file', _plant_hard_link_of_shared_root_file),
    ('~/.config -> root folder', _plant_config_link),
    ('dangling link', _plant_dangling_link),
    ('FIFO', _plant_fifo),
    ('~/.s3cfg-backup -> root file', _plant_s3cfg_link_in_home),
]


@pytest.mark.timeout(30)
@pytest.mark.parametrize('plant', [p[1] for p in PLANTS], ids=[p[0] for p in PLANTS])
def test_planted_objects_are_refused(w, plant):
    victim = w['victim']
    rel = victim.run(lambda: plant(w))
    path = os.path.join(victim.home, rel)
    tree = UserTree(victim.home, victim.uid, victim.gid)
    for call in (lambda: tree.write(path, MARK + b'\n'), lambda: tree.read(path), lambda: tree.stat(path),
                 lambda: tree.remove(path)):
        with pytest.raises(UnsafePath) as info:
            call()
        assert MARK.decode() not in str(info.value)
    assert not os.path.lexists(os.path.join(w['rootdir'], 'new-through-link'))
    assert not os.path.lexists(os.path.join(w['rootdir'], 'rclone'))
    assert _secret_files_are_private(victim.home, (victim.uid,)) == []
    # what the user planted is still there (root touched nothing)
    assert os.path.lexists(os.path.join(victim.home, rel.split('/')[0]))


def test_the_user_can_still_get_a_file_where_the_user_could_write(w):
    """After the user removes the planted link, the same write goes through, owned by the user."""
    victim = w['victim']
    victim.run(lambda: _plant_credentials_link_to_root_file(w))
    tree = UserTree(victim.home, victim.uid, victim.gid)
    path = os.path.join(victim.home, '.aws', 'credentials')
    with pytest.raises(UnsafePath):
        tree.write(path, MARK)
    victim.run(lambda: os.unlink(path))
    assert tree.write(path, MARK) == 'created'
    st = os.lstat(path)
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o600, victim.uid, victim.gid)
    assert victim.run(lambda: _read(path)) == MARK


# ---------------------------------------------------------------- the victim races root's writes

def _victim_race(w, deadline_s=40):
    home = w['victim'].home
    aws = os.path.join(home, '.aws')
    config = os.path.join(home, '.config')
    stop = w['stop']
    counts = {'loops': 0, 'stolen': 0, 'linked': 0, 'hardlinked': 0, 'folder_swaps': 0}
    deadline = time.time() + deadline_s

    def attempt(key, fn, *args):
        try:
            fn(*args)
            if key:
                counts[key] += 1
        except OSError:
            pass

    while time.time() < deadline and not os.path.exists(stop):
        counts['loops'] += 1
        for folder, target in ((aws, 'credentials'), (os.path.join(config, 'rclone'), 'rclone.conf')):
            try:
                names = os.listdir(folder)
            except OSError:
                names = []
            for name in names:
                entry = os.path.join(folder, name)
                if _safe_io.TEMP_MARK in name and not name.endswith('.stolen'):
                    # steal root's temp file and put a link to a root file where it was
                    attempt('stolen', os.rename, entry, entry + '.stolen')
                    attempt(None, os.symlink, w['rootfile'], entry)
                elif name.endswith('.stolen') and counts['loops'] % 50 == 0:
                    attempt(None, os.unlink, entry)
            # the target itself: a link to a root file, then a hard link of the group-shared root file
            attempt(None, os.symlink, w['rootfile'], os.path.join(folder, '.l'))
            attempt('linked', os.rename, os.path.join(folder, '.l'), os.path.join(folder, target))
            attempt(None, os.link, w['shared'], os.path.join(folder, '.h'))
            attempt('hardlinked', os.rename, os.path.join(folder, '.h'), os.path.join(folder, target))
            attempt(None, os.unlink, os.path.join(folder, target))
        # the folders: swap ~/.aws and ~/.config for links to a root folder, then back
        for folder in (aws, config):
            real = folder + '-real'
            try:
                os.rename(folder, real)
            except OSError:
                continue
            attempt('folder_swaps', os.symlink, w['rootdir'], folder)
            time.sleep(0)
            attempt(None, os.unlink, folder)
            attempt(None, os.rename, real, folder)
    return counts


def _victim_steal_temps(w, deadline_s=40):
    """A tight loop doing one thing: replace each new temp file of root's with a link to a root file."""
    folders = [os.path.join(w['victim'].home, '.aws'), os.path.join(w['victim'].home, '.config', 'rclone')]
    counts = {'loops': 0, 'stolen': 0}
    deadline = time.time() + deadline_s
    while time.time() < deadline and not os.path.exists(w['stop']):
        counts['loops'] += 1
        for folder in folders:
            try:
                names = os.listdir(folder)
            except OSError:
                continue
            for name in names:
                if _safe_io.TEMP_MARK not in name or name.endswith('.stolen'):
                    continue
                entry = os.path.join(folder, name)
                try:
                    os.rename(entry, entry + '.stolen')
                    os.symlink(w['rootfile'], entry)
                    counts['stolen'] += 1
                except OSError:
                    pass
    return counts


@pytest.mark.timeout(90)
def test_race_with_the_victim_replacing_entries(w):
    victim = w['victim']
    home = victim.home
    victim.run(lambda: [os.mkdir(os.path.join(home, d), 0o700) for d in ('.aws', '.config', '.config/rclone')])
    tree = UserTree(home, victim.uid, victim.gid)
    paths = [os.path.join(home, '.aws', 'credentials'), os.path.join(home, '.config', 'rclone', 'rclone.conf')]
    outcomes = {'created': 0, 'changed': 0, 'unchanged': 0, 'UnsafePath': 0, 'OSError': 0}
    attacker = victim.start(lambda: _victim_race(w))
    stealers = [victim.start(lambda: _victim_steal_temps(w)) for dummy in range(2)]
    try:
        time.sleep(0.2)
        for i in range(200):
            try:
                outcomes[tree.write(paths[i % 2], MARK + b' %d\n' % i)] += 1
            except UnsafePath:
                outcomes['UnsafePath'] += 1
            except OSError:
                outcomes['OSError'] += 1
    finally:
        open(w['stop'], 'w').close()
    counts = attacker.result(timeout=60)
    stolen = [stealer.result(timeout=60) for stealer in stealers]
    assert counts['loops'] > 10, counts
    assert all(s['loops'] > 10 for s in stolen), stolen
    assert counts['linked'] + counts['folder_swaps'] > 10, counts
    assert sum(outcomes.values()) == 200
    assert _secret_files_are_private(home, (victim.uid, 0)) == []
    # the root-owned targets are checked by the fixture (content, owner, mode, inode, links)
    assert sorted(os.listdir(w['rootdir'])) == ['credentials']


# ---------------------------------------------------------------- another local user polls for the secret

def _mallory_poll(home, stop, seconds):
    deadline = time.time() + seconds
    found = {'opened': 0, 'leaks': [], 'decoy': False, 'loops': 0, 'denied': 0}

    def visit(folder, depth):
        try:
            entries = list(os.scandir(folder))
        except OSError:
            return
        for entry in entries:
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                continue
            if is_dir:
                if depth < 4:
                    visit(entry.path, depth + 1)
                continue
            try:
                fd = os.open(entry.path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
            except OSError:
                found['denied'] += 1
                continue
            try:
                found['opened'] += 1
                data = os.read(fd, 1 << 20)
            except OSError:
                data = b''
            finally:
                os.close(fd)
            if MARK in data:
                found['leaks'].append(entry.path)
            if b'decoy' in data:
                found['decoy'] = True

    while time.time() < deadline and not os.path.exists(stop):
        found['loops'] += 1
        visit(home, 0)
    return found


@pytest.mark.timeout(60)
@pytest.mark.parametrize('mask', [0o000, 0o077])
def test_another_user_never_opens_the_secret(w, mask):
    victim, mallory = w['victim'], w['mallory']
    home = victim.home

    def prepare():
        os.umask(0)
        os.mkdir(os.path.join(home, '.aws'), 0o777)         # a wide leaf folder: tightened before any secret
        os.mkdir(os.path.join(home, '.config'), 0o755)      # a shared intermediate folder
        with open(os.path.join(home, 'public.txt'), 'wb') as handle:
            handle.write(b'decoy\n')
        os.chmod(os.path.join(home, 'public.txt'), 0o644)

    victim.run(prepare)
    tree = UserTree(home, victim.uid, victim.gid)
    paths = [os.path.join(home, '.aws', 'credentials'), os.path.join(home, '.config', 'rclone', 'rclone.conf'),
             os.path.join(home, '.config', 'r2', 'backup.env'), os.path.join(home, '.s3cfg-backup')]
    poller = mallory.start(lambda: _mallory_poll(home, w['stop'], 4.0))
    saved = os.umask(mask)
    writes = 0
    try:
        deadline = time.time() + 3.5
        while time.time() < deadline and writes < 5000:
            for path in paths:
                assert tree.write(path, MARK + b' %d\n' % writes) in ('created', 'changed')
                writes += 1
            if writes % 40 == 0:
                # start over now and then, so that the folders are created again while mallory polls
                for path in paths:
                    tree.remove(path)
                for folder in ('.config/rclone', '.config/r2'):
                    os.rmdir(os.path.join(home, folder))
        for path in paths:
            assert tree.write(path, MARK + b' last\n') in ('created', 'changed')
    finally:
        os.umask(saved)
        open(w['stop'], 'w').close()
    found = poller.result(timeout=30)
    assert found['leaks'] == []
    assert found['decoy'] and found['opened'] > 0 and found['loops'] > 1, found
    assert writes > 20
    assert tree.tightened[:1] == [os.path.join(home, '.aws')]
    for path in paths:
        st = os.lstat(path)
        assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o600, victim.uid, victim.gid)
    for folder in ('.aws', '.config/rclone', '.config/r2'):
        st = os.lstat(os.path.join(home, folder))
        assert (stat.S_IMODE(st.st_mode), st.st_uid) == (0o700, victim.uid), folder
    assert stat.S_IMODE(os.lstat(os.path.join(home, '.config')).st_mode) == 0o755
    assert _secret_files_are_private(home, (victim.uid,)) == []
