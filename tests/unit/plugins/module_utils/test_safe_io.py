# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""_safe_io: the descriptor-walk reader/writer of a user's client files (run as root, numeric fake ids).

Real unix users and concurrent attackers are in test_safe_io_attacks.py.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import fcntl
import os
import pickle
import pwd
import select
import shutil
import signal
import socket
import stat
import tempfile
import threading
import time

import pytest

from ansible_collections.cloudflare_r2.credentials.plugins.module_utils import _safe_io
from ansible_collections.cloudflare_r2.credentials.plugins.module_utils._safe_io import UnsafePath, UserTree

pytestmark = [
    pytest.mark.timeout(60),
    pytest.mark.skipif(os.geteuid() != 0, reason='needs root: files are chowned to other (numeric) users'),
]

SECRET = b'aws_secret_access_key = s3cr3t-SAFE-IO-unit\n'
ROOT_SECRET = b'root-only content\n'


def _free_ids(count):
    used = set(p.pw_uid for p in pwd.getpwall()) | set(p.pw_gid for p in pwd.getpwall())
    ids = []
    candidate = 54321
    while len(ids) < count:
        if candidate not in used:
            ids.append(candidate)
        candidate += 1
    return ids


U, OTHER = _free_ids(2)
G = U


def meta(path):
    st = os.lstat(path)
    return stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, st.st_ino


def snapshot(path):
    """(meta, content) of a file, or meta and sorted listing of a folder."""
    if os.path.isdir(path) and not os.path.islink(path):
        return meta(path), sorted(os.listdir(path))
    with open(path, 'rb') as handle:
        return meta(path), handle.read()


def temps(folder):
    return [name for name in os.listdir(folder) if _safe_io.TEMP_MARK in name]


class Child(object):
    """A forked child running ``fn`` (optionally as uid/gid) and sending back its pickled result."""

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
                    assert os.getresuid() == (uid, uid, uid)
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
                ready = select.select([self._read], [], [], min(left, 0.5))[0]
                if ready:
                    chunk = os.read(self._read, 65536)
                    if not chunk:
                        break
                    chunks.append(chunk)
        finally:
            self.wait()
        kind, value = pickle.loads(b''.join(chunks))
        if kind != 'ok':
            raise AssertionError('child failed: %s' % value)
        return value

    def kill(self):
        try:
            os.kill(self.pid, signal.SIGKILL)
        except OSError:
            pass

    def wait(self):
        if self.status is None:
            self.status = os.waitpid(self.pid, 0)[1]
            if self._read is not None:
                os.close(self._read)
                self._read = None
        return self.status


@pytest.fixture
def base():
    """A root-owned folder /tmp/... that other uids may traverse (0711)."""
    path = tempfile.mkdtemp(prefix='r2sa-unit-', dir='/tmp')
    os.chmod(path, 0o711)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def home(base):
    path = os.path.join(base, 'home')
    os.mkdir(path)
    os.chown(path, U, G)
    os.chmod(path, 0o755)
    return path


@pytest.fixture
def tree(home):
    return UserTree(home, U, G)


@pytest.fixture
def rootdir(base):
    """A root-owned folder with a root-owned file ``credentials`` (0644)."""
    path = os.path.join(base, 'rootdir')
    os.mkdir(path, 0o755)
    target = os.path.join(path, 'credentials')
    with open(target, 'wb') as handle:
        handle.write(ROOT_SECRET)
    os.chmod(target, 0o644)
    return path


@pytest.fixture
def umask():
    """Set the process umask for one test and restore it."""
    saved = os.umask(0o022)
    os.umask(saved)
    state = {}

    def set_umask(value):
        state.setdefault('saved', os.umask(value))
    yield set_umask
    if 'saved' in state:
        os.umask(state['saved'])


def mkdir_as(path, uid, mode=0o755):
    os.mkdir(path)
    os.chown(path, uid, uid)
    os.chmod(path, mode)


# ---------------------------------------------------------------- lookup_user

def test_lookup_user():
    assert _safe_io.lookup_user('root') == (0, 0, pwd.getpwnam('root').pw_dir)
    assert _safe_io.lookup_user(0)[0] == 0
    with pytest.raises(_safe_io.NoSuchUser, match='user r2sa_no_such_user does not exist'):
        _safe_io.lookup_user('r2sa_no_such_user')
    assert issubclass(_safe_io.NoSuchUser, UnsafePath)


# ---------------------------------------------------------------- write: created / changed / unchanged

def test_write_created_unchanged_changed(tree, home):
    path = os.path.join(home, '.aws', 'credentials')
    assert tree.read(path) is None
    assert tree.stat(path) is None
    assert tree.write(path, SECRET) == 'created'
    assert tree.read(path) == SECRET
    assert tree.stat(path) == (0o600, U, G)
    ino = os.lstat(path).st_ino
    mtime = os.lstat(path).st_mtime_ns
    assert tree.write(path, SECRET) == 'unchanged'
    assert (os.lstat(path).st_ino, os.lstat(path).st_mtime_ns) == (ino, mtime)
    assert tree.write(path, SECRET + b'x') == 'changed'
    assert tree.read(path) == SECRET + b'x'
    assert os.lstat(path).st_ino != ino, 'replaced by rename, not rewritten in place'
    assert tree.write(path, b'') == 'changed'
    assert tree.read(path) == b''
    assert tree.write(path, b'') == 'unchanged'
    assert temps(os.path.dirname(path)) == []
    assert tree.tightened == []


def test_unchanged_needs_right_owner_and_mode(tree, home):
    path = os.path.join(home, '.s3cfg-backup')
    assert tree.write(path, SECRET) == 'created'
    os.chmod(path, 0o644)
    assert tree.write(path, SECRET) == 'changed'
    assert meta(path)[1:4] == (0o600, U, G)
    os.chown(path, 0, 0)
    with pytest.raises(UnsafePath, match='owned by uid 0, not by uid %d' % U):
        tree.write(path, SECRET)   # root's file in the user's folder: it may have been moved there by the user
    os.chown(path, U, 0)
    assert tree.write(path, SECRET) == 'changed'
    assert meta(path)[1:4] == (0o600, U, G)
    assert tree.write(path, SECRET, mode=0o640) == 'changed'
    assert meta(path)[1] == 0o640
    assert tree.write(path, SECRET, mode=0o640) == 'unchanged'


def test_write_accepts_bytearray_and_refuses_text_and_special_modes(tree, home):
    path = os.path.join(home, '.config', 'r2', 'x.env')
    assert tree.write(path, bytearray(b'A=1\n')) == 'created'
    with pytest.raises(TypeError):
        tree.write(path, 'A=1\n')
    with pytest.raises(ValueError):
        tree.write(path, b'A=1\n', mode=0o4755)
    assert tree.read(path) == b'A=1\n'


@pytest.mark.parametrize('mask', [0o000, 0o077, 0o022, 0o777])
def test_modes_whatever_the_umask(tree, home, umask, monkeypatch, mask):
    created_modes = []
    real_open = os.open

    def spy_open(name, flags, mode=0o777, *args, **kwargs):
        fd = real_open(name, flags, mode, *args, **kwargs)
        if flags & os.O_CREAT:
            created_modes.append((name, mode, stat.S_IMODE(os.fstat(fd).st_mode)))
        return fd

    mkdir_modes = []
    real_mkdir = os.mkdir

    def spy_mkdir(name, mode=0o777, *args, **kwargs):
        mkdir_modes.append(mode)
        return real_mkdir(name, mode, *args, **kwargs)

    at_rename = []
    monkeypatch.setattr(_safe_io.os, 'mkdir', spy_mkdir)
    monkeypatch.setattr(_safe_io.os, 'open', spy_open)
    monkeypatch.setattr(_safe_io, '_before_rename', lambda tmp: at_rename.append(meta(tmp)[1:4]))
    umask(mask)
    files = [os.path.join(home, '.aws', 'credentials'), os.path.join(home, '.config', 'rclone', 'rclone.conf'),
             os.path.join(home, '.config', 'r2', 'backup.env'), os.path.join(home, '.s3cfg-backup')]
    for path in files:
        assert tree.write(path, SECRET) == 'created'
    monkeypatch.setattr(_safe_io.os, 'open', real_open)
    monkeypatch.setattr(_safe_io.os, 'mkdir', real_mkdir)
    assert mkdir_modes == [0o700] * 4, 'folders are never created wider than 0700'
    for path in files:
        assert meta(path)[:4] == (stat.S_IFREG, 0o600, U, G), path
    for folder in ('.aws', '.config', '.config/rclone', '.config/r2'):
        assert meta(os.path.join(home, folder))[:4] == (stat.S_IFDIR, 0o700, U, G), folder
    assert meta(home)[1:4] == (0o755, U, G)
    # the temp files: asked for 0600 and never wider from the first byte; 0600 and the user's before the rename
    assert len(created_modes) == len(files)
    for name, asked, actual in created_modes:
        assert _safe_io.TEMP_MARK in name
        assert asked == 0o600
        assert actual & ~0o600 == 0
    assert at_rename == [(0o600, U, G)] * len(files)
    # an explicit mode is applied whatever the umask
    assert tree.write(files[0], SECRET, mode=0o640) == 'changed'
    assert meta(files[0])[1] == 0o640


def test_nothing_is_chowned_chmodded_or_opened_by_path_below_home(tree, home, base, monkeypatch):
    """Structural: ownership and modes only ever change through descriptors; below home every open is relative
    to a folder descriptor and never follows a link; every rename and unlink is relative to one too."""
    mkdir_as(os.path.join(home, '.config'), U, 0o755)
    with open(os.path.join(home, '.config', '.x.r2tmp-old'), 'wb'):
        pass
    calls = []

    def forbidden(name):
        def call(*args, **kwargs):
            raise AssertionError('%s%r called by path' % (name, args))
        return call

    for name in ('chown', 'lchown', 'chmod', 'lchmod', 'replace', 'rmdir'):
        if hasattr(os, name):
            monkeypatch.setattr(_safe_io.os, name, forbidden(name))
    real = dict((name, getattr(os, name)) for name in ('open', 'rename', 'unlink', 'mkdir'))

    def spy(name):
        def call(*args, **kwargs):
            calls.append((name, args, kwargs))
            return real[name](*args, **kwargs)
        return call

    for name in real:
        monkeypatch.setattr(_safe_io.os, name, spy(name))
    for path in (os.path.join(home, '.config', 'rclone', 'rclone.conf'), os.path.join(home, '.config', 'x'),
                 os.path.join(home, '.s3cfg-x')):
        tree.write(path, SECRET)
        tree.write(path, SECRET + b'2')
        tree.read(path)
        tree.stat(path)
        tree.remove(path)
    for name in real:
        monkeypatch.setattr(_safe_io.os, name, real[name])
    assert calls
    for name, args, kwargs in calls:
        target = args[0]
        if name == 'open' and target == '/':
            continue  # where every walk starts: each folder below it is opened relative to its parent
        assert '/' not in target and kwargs.get('dir_fd') is not None or 'src_dir_fd' in kwargs, (name, args, kwargs)
        if name == 'open':
            assert args[1] & os.O_NOFOLLOW, (name, args)
        if name == 'rename':
            assert '/' not in args[1] and kwargs.get('dst_dir_fd') is not None


def test_leaf_folder_tightened_not_home_nor_shared_parent(tree, home):
    mkdir_as(os.path.join(home, '.config'), U, 0o755)
    mkdir_as(os.path.join(home, '.config', 'rclone'), U, 0o775)
    mkdir_as(os.path.join(home, '.aws'), U, 0o700)
    mkdir_as(os.path.join(home, '.config', 'r2'), 0, 0o755)  # root's: not "ours", left alone
    assert tree.write(os.path.join(home, '.config', 'rclone', 'rclone.conf'), SECRET) == 'created'
    assert tree.write(os.path.join(home, '.aws', 'credentials'), SECRET) == 'created'
    assert tree.write(os.path.join(home, '.config', 'r2', 'x.env'), SECRET) == 'created'
    assert tree.write(os.path.join(home, '.s3cfg-x'), SECRET) == 'created'
    assert tree.tightened == [os.path.join(home, '.config', 'rclone')]
    assert meta(os.path.join(home, '.config', 'rclone'))[1] == 0o700
    assert meta(os.path.join(home, '.config'))[1] == 0o755
    assert meta(os.path.join(home, '.config', 'r2'))[1:3] == (0o755, 0)
    assert meta(home)[1] == 0o755
    assert meta(os.path.join(home, '.config', 'r2', 'x.env'))[1:4] == (0o600, U, G)


def test_root_owned_folders_are_accepted_but_root_owned_files_below_home_are_refused(tree, home):
    """A user can move a root-owned file into their home from any folder they can write (a shared one); root
    would read it and hand its content over with the new file."""
    mkdir_as(os.path.join(home, '.aws'), 0, 0o755)
    path = os.path.join(home, '.aws', 'credentials')
    with open(path, 'wb') as handle:
        handle.write(b'root secret\n')
    with pytest.raises(UnsafePath, match='owned by uid 0'):
        tree.read(path)
    with pytest.raises(UnsafePath, match='owned by uid 0'):
        tree.write(path, SECRET)
    assert meta(path)[1:4] == (0o644, 0, 0)
    other = os.path.join(home, '.aws', 'config')
    assert tree.write(other, SECRET) == 'created'
    assert meta(other)[1:4] == (0o600, U, G)


# ---------------------------------------------------------------- read

def test_read_missing_and_sizes(tree, home):
    assert tree.read(os.path.join(home, 'nope', 'deeper', 'file')) is None
    assert not os.path.exists(os.path.join(home, 'nope'))
    path = os.path.join(home, '.s3cfg-x')
    assert tree.write(path, b'x' * 100) == 'created'
    assert tree.read(path, max_bytes=100) == b'x' * 100
    with pytest.raises(UnsafePath, match='larger than 99 bytes') as info:
        tree.read(path, max_bytes=99)
    assert str(path) in str(info.value)
    assert 'xxxx' not in str(info.value)


def test_read_refuses_a_huge_sparse_file_without_reading_it(tree, home, monkeypatch):
    path = os.path.join(home, '.s3cfg-huge')
    with open(path, 'wb') as handle:
        handle.truncate(50 * 1024 ** 3)
    os.chown(path, U, G)
    reads = []
    real_read = os.read
    monkeypatch.setattr(_safe_io.os, 'read', lambda fd, n: reads.append(n) or real_read(fd, n))
    started = time.time()
    with pytest.raises(UnsafePath, match='larger than'):
        tree.read(path)
    assert time.time() - started < 5
    assert reads == []


def test_read_reads_at_most_max_bytes_plus_one_of_a_growing_file(tree, home, monkeypatch):
    path = os.path.join(home, '.s3cfg-grow')
    assert tree.write(path, b'small') == 'created'
    total = []
    real_read = os.read

    def growing_read(fd, n):
        if not total:
            with open(path, 'ab') as handle:
                handle.write(b'y' * (10 * 1024 * 1024))
        data = real_read(fd, n)
        total.append(len(data))
        return data

    monkeypatch.setattr(_safe_io.os, 'read', growing_read)
    with pytest.raises(UnsafePath, match='larger than 1000 bytes'):
        tree.read(path, max_bytes=1000)
    assert sum(total) <= 1001


# ---------------------------------------------------------------- refusals

def _plant_symlinked_folder(home, rootdir):
    os.symlink(rootdir, os.path.join(home, '.aws'))
    return os.path.join(home, '.aws', 'credentials')


def _plant_symlinked_file(home, rootdir):
    mkdir_as(os.path.join(home, '.aws'), U, 0o700)
    os.symlink(os.path.join(rootdir, 'credentials'), os.path.join(home, '.aws', 'credentials'))
    return os.path.join(home, '.aws', 'credentials')


def _plant_dangling_link(home, rootdir):
    mkdir_as(os.path.join(home, '.aws'), U, 0o700)
    os.symlink(os.path.join(rootdir, 'created-through-link'), os.path.join(home, '.aws', 'credentials'))
    return os.path.join(home, '.aws', 'credentials')


def _plant_fifo(home, rootdir):
    mkdir_as(os.path.join(home, '.aws'), U, 0o700)
    os.mkfifo(os.path.join(home, '.aws', 'credentials'))
    os.chown(os.path.join(home, '.aws', 'credentials'), U, G)
    return os.path.join(home, '.aws', 'credentials')


def _plant_hard_link(home, rootdir):
    mkdir_as(os.path.join(home, '.aws'), U, 0o700)
    os.link(os.path.join(rootdir, 'credentials'), os.path.join(home, '.aws', 'credentials'))
    return os.path.join(home, '.aws', 'credentials')


def _plant_foreign_file(home, rootdir):
    mkdir_as(os.path.join(home, '.aws'), U, 0o700)
    path = os.path.join(home, '.aws', 'credentials')
    with open(path, 'wb') as handle:
        handle.write(SECRET)
    os.chown(path, OTHER, OTHER)
    return path


def _plant_foreign_folder(home, rootdir):
    mkdir_as(os.path.join(home, '.aws'), OTHER, 0o755)
    path = os.path.join(home, '.aws', 'credentials')
    with open(path, 'wb') as handle:
        handle.write(SECRET)
    os.chown(path, U, G)
    return path


def _plant_dev_zero_link(home, rootdir):
    mkdir_as(os.path.join(home, '.aws'), U, 0o700)
    os.symlink('/dev/zero', os.path.join(home, '.aws', 'credentials'))
    return os.path.join(home, '.aws', 'credentials')


def _plant_device(home, rootdir):
    mkdir_as(os.path.join(home, '.aws'), U, 0o700)
    path = os.path.join(home, '.aws', 'credentials')
    try:
        os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 5))
    except OSError as exc:
        pytest.skip('cannot mknod here: %s' % exc)
    return path


def _plant_socket(home, rootdir):
    mkdir_as(os.path.join(home, '.aws'), U, 0o700)
    path = os.path.join(home, '.aws', 'credentials')
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(path)
    sock.close()
    return path


def _plant_directory(home, rootdir):
    mkdir_as(os.path.join(home, '.aws'), U, 0o700)
    mkdir_as(os.path.join(home, '.aws', 'credentials'), U, 0o700)
    return os.path.join(home, '.aws', 'credentials')


def _plant_symlinked_intermediate(home, rootdir):
    os.symlink(rootdir, os.path.join(home, '.config'))
    return os.path.join(home, '.config', 'rclone', 'rclone.conf')


def _plant_file_as_folder(home, rootdir):
    with open(os.path.join(home, '.aws'), 'wb') as handle:
        handle.write(b'not a folder')
    os.chown(os.path.join(home, '.aws'), U, G)
    return os.path.join(home, '.aws', 'credentials')


REFUSALS = [
    ('symlinked folder', _plant_symlinked_folder, 'symbolic link'),
    ('symlinked file', _plant_symlinked_file, 'symbolic link'),
    ('dangling link', _plant_dangling_link, 'symbolic link'),
    ('fifo', _plant_fifo, 'FIFO'),
    ('hard link', _plant_hard_link, 'hard links'),
    ('foreign owner file', _plant_foreign_file, 'owned by uid %d' % OTHER),
    ('foreign owner folder', _plant_foreign_folder, 'owned by uid %d' % OTHER),
    ('/dev/zero link', _plant_dev_zero_link, 'symbolic link'),
    ('device', _plant_device, 'device'),
    ('socket', _plant_socket, 'socket'),
    ('directory', _plant_directory, 'directory'),
    ('symlinked intermediate folder', _plant_symlinked_intermediate, 'symbolic link'),
    ('file instead of folder', _plant_file_as_folder, 'not a directory'),
]


@pytest.mark.timeout(15)
@pytest.mark.parametrize('plant, rule', [r[1:] for r in REFUSALS], ids=[r[0] for r in REFUSALS])
@pytest.mark.parametrize('operation', ['read', 'write', 'stat', 'remove'])
def test_refusals(tree, home, rootdir, plant, rule, operation):
    path = plant(home, rootdir)
    watched = [rootdir, os.path.join(rootdir, 'credentials'), '/dev/zero']
    before = dict((p, snapshot(p) if os.path.isdir(p) else meta(p)) for p in watched)
    planted_path = planted_object(home, path)
    planted = os.lstat(planted_path)
    aws = os.path.join(home, '.aws')
    aws_before = meta(aws) if os.path.isdir(aws) and not os.path.islink(aws) else None
    call = {
        'read': lambda: tree.read(path),
        'write': lambda: tree.write(path, SECRET + b'new'),
        'stat': lambda: tree.stat(path),
        'remove': lambda: tree.remove(path),
    }[operation]
    with pytest.raises(UnsafePath, match=rule) as info:
        call()
    message = str(info.value)
    assert 'refusing ' in message
    assert b's3cr3t' not in message.encode()
    assert info.value.path and info.value.path in message and info.value.path.startswith(home)
    after = dict((p, snapshot(p) if os.path.isdir(p) else meta(p)) for p in watched)
    assert after == before
    with open(os.path.join(rootdir, 'credentials'), 'rb') as handle:
        assert handle.read() == ROOT_SECRET
    assert not os.path.lexists(os.path.join(rootdir, 'created-through-link'))
    assert not os.path.lexists(os.path.join(rootdir, 'rclone'))
    again = os.lstat(planted_path)
    assert (again.st_ino, again.st_mode, again.st_uid) == (planted.st_ino, planted.st_mode, planted.st_uid)
    if aws_before is not None:
        assert meta(aws) == aws_before
        assert temps(aws) == []


def planted_object(home, path):
    """The first entry below home on the way to ``path`` that is not a plain folder: what the test planted."""
    current = home
    for part in path[len(home) + 1:].split('/'):
        current = os.path.join(current, part)
        st = os.lstat(current)
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != U:
            return current
    return current


def test_refused_write_does_not_tighten_the_leaf_folder(tree, home, rootdir):
    mkdir_as(os.path.join(home, '.aws'), U, 0o755)
    os.symlink(os.path.join(rootdir, 'credentials'), os.path.join(home, '.aws', 'credentials'))
    with pytest.raises(UnsafePath):
        tree.write(os.path.join(home, '.aws', 'credentials'), SECRET)
    assert meta(os.path.join(home, '.aws'))[1] == 0o755
    assert tree.tightened == []


# ---------------------------------------------------------------- stale temp files, atomicity, SIGKILL

def test_stale_temp_files_are_removed(tree, home, rootdir):
    aws = os.path.join(home, '.aws')
    mkdir_as(aws, U, 0o700)

    def plant(name, uid):
        with open(os.path.join(aws, name), 'wb') as handle:
            handle.write(SECRET)
        os.chown(os.path.join(aws, name), uid, uid)

    plant('.credentials.r2tmp-deadbeef', U)
    plant('.credentials.r2tmp-rootowned', 0)
    plant('.credentials.r2tmp-foreign', OTHER)
    plant('.config.r2tmp-otherfile', U)
    os.symlink(os.path.join(rootdir, 'credentials'), os.path.join(aws, '.credentials.r2tmp-link'))
    root_before = meta(os.path.join(rootdir, 'credentials'))
    assert tree.write(os.path.join(aws, 'credentials'), SECRET) == 'created'
    assert sorted(os.listdir(aws)) == ['.config.r2tmp-otherfile', '.credentials.r2tmp-foreign', '.credentials.r2tmp-link',
                                       'credentials']
    assert meta(os.path.join(rootdir, 'credentials')) == root_before
    # an 'unchanged' run cleans up too
    plant('.credentials.r2tmp-again', U)
    assert tree.write(os.path.join(aws, 'credentials'), SECRET) == 'unchanged'
    assert '.credentials.r2tmp-again' not in os.listdir(aws)


def test_a_temporary_file_of_a_writer_at_work_is_left_alone(tree, home, monkeypatch):
    """Writers hold a flock on the folder from creating their temporary file to renaming it: while it is held,
    a temporary file may be another writer's, so it stays (and the write still happens)."""
    aws = os.path.join(home, '.aws')
    mkdir_as(aws, U, 0o700)
    busy = os.path.join(aws, '.credentials.r2tmp-0123456789abcdef')
    with open(busy, 'wb') as handle:
        handle.write(b'partial')
    os.chown(busy, U, U)
    monkeypatch.setattr(_safe_io, 'LOCK_WAIT', 0.2)
    holder = os.open(aws, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(holder, fcntl.LOCK_EX)
        assert tree.write(os.path.join(aws, 'credentials'), SECRET) == 'created'
        assert os.path.exists(busy)
    finally:
        os.close(holder)
    assert tree.write(os.path.join(aws, 'credentials'), SECRET) == 'unchanged'
    assert not os.path.exists(busy)


def test_readers_see_old_or_new_content_whole(tree, home):
    path = os.path.join(home, '.aws', 'credentials')
    versions = [b'a' * 300000, b'b' * 200001 + b'\n', b'c' * 7]
    assert tree.write(path, versions[0]) == 'created'
    seen = []
    bad = []
    stop = threading.Event()

    def reader():
        while not stop.is_set() and len(seen) < 1000000:
            with open(path, 'rb') as handle:
                data = handle.read()
            seen.append(1)
            if data not in versions:
                bad.append(len(data))

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for i in range(150):
            assert tree.write(path, versions[(i + 1) % 3]) == 'changed'
    finally:
        stop.set()
        thread.join(10)
    assert seen
    assert bad == []
    assert temps(os.path.dirname(path)) == []


def test_sigkill_before_rename_leaves_old_content_and_next_write_cleans_up(tree, home):
    path = os.path.join(home, '.aws', 'credentials')
    old = b'old content\n' * 1000
    new = SECRET * 1000
    assert tree.write(path, old) == 'created'
    paused_r, paused_w = os.pipe()

    def child():
        def pause(tmp):
            os.write(paused_w, tmp.encode() + b'\n')
            time.sleep(60)
        _safe_io._before_rename = pause
        return tree.write(path, new)

    proc = Child(child)
    os.close(paused_w)
    try:
        assert select.select([paused_r], [], [], 20)[0], 'the child never reached the rename'
        tmp = os.read(paused_r, 4096).decode().strip()
        assert os.path.dirname(tmp) == os.path.dirname(path)
        assert os.path.basename(tmp).startswith('.credentials' + _safe_io.TEMP_MARK)
        assert meta(tmp)[:4] == (stat.S_IFREG, 0o600, U, G)
    finally:
        proc.kill()
        os.close(paused_r)
    status = proc.wait()
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    assert _safe_io._before_rename is None, 'the hook was set in the child only'
    with open(path, 'rb') as handle:
        assert handle.read() == old
    assert temps(os.path.dirname(path)) == [os.path.basename(tmp)], 'the killed run left its temp file'
    assert tree.write(path, new) == 'changed'
    assert tree.read(path, max_bytes=len(new)) == new
    assert temps(os.path.dirname(path)) == []


def test_a_failing_write_removes_its_temp_and_keeps_the_old_file(tree, home, monkeypatch):
    path = os.path.join(home, '.aws', 'credentials')
    assert tree.write(path, b'old') == 'created'

    def boom(tmp):
        raise OSError(errno.ENOSPC, 'No space left on device')

    monkeypatch.setattr(_safe_io, '_before_rename', boom)
    with pytest.raises(OSError):
        tree.write(path, b'new')
    assert tree.read(path) == b'old'
    assert temps(os.path.dirname(path)) == []


# ---------------------------------------------------------------- remove / stat

def test_remove_and_stat(tree, home):
    path = os.path.join(home, '.config', 'r2', 'x.env')
    assert tree.remove(path) is False
    assert not os.path.exists(os.path.join(home, '.config'))
    tree.write(path, b'A=1\n', mode=0o640)
    assert tree.stat(path) == (0o640, U, G)
    assert tree.remove(path) is True
    assert not os.path.lexists(path)
    assert tree.remove(path) is False
    assert tree.stat(path) is None


# ---------------------------------------------------------------- paths outside home

@pytest.fixture
def etc_r2(base):
    path = os.path.join(base, 'etc-r2')
    os.mkdir(path, 0o755)
    return path


def test_outside_home_root_folder(tree, etc_r2):
    path = os.path.join(etc_r2, 'x.env')
    assert tree.write(path, SECRET) == 'created'
    assert meta(path)[1:4] == (0o600, U, G)
    assert tree.read(path) == SECRET
    assert tree.stat(path) == (0o600, U, G)
    assert tree.write(path, SECRET) == 'unchanged'
    assert meta(etc_r2)[1:3] == (0o755, 0), 'never tightened nor chowned outside home'
    assert tree.tightened == []
    assert tree.remove(path) is True


def test_outside_home_a_root_owned_file_is_refused_and_the_users_replaced(tree, etc_r2):
    path = os.path.join(etc_r2, 'x.env')
    with open(path, 'wb') as handle:
        handle.write(b'A=root\n')
    with pytest.raises(UnsafePath, match='owned by uid 0'):
        tree.write(path, SECRET)
    os.chown(path, U, G)
    assert tree.read(path) == b'A=root\n'
    assert tree.write(path, SECRET) == 'changed'
    assert meta(path)[1:4] == (0o600, U, G)


def test_outside_home_folder_must_exist_and_is_never_created(tree, base, etc_r2):
    path = os.path.join(etc_r2, 'sub', 'x.env')
    assert tree.read(path) is None
    assert tree.stat(path) is None
    assert tree.remove(path) is False
    with pytest.raises(UnsafePath, match='never created'):
        tree.write(path, SECRET)
    assert not os.path.exists(os.path.join(etc_r2, 'sub'))
    with pytest.raises(UnsafePath, match='never created'):
        tree.write(os.path.join(base, 'missing', 'x.env'), SECRET)
    assert not os.path.exists(os.path.join(base, 'missing'))


@pytest.mark.parametrize('mode, owner, allowed', [
    (0o755, 'root', True),
    (0o700, 'user', True),
    (0o1777, 'root', True),
    (0o1770, 'user', True),
    (0o777, 'root', False),
    (0o775, 'root', False),
    (0o757, 'user', False),
    (0o755, 'other', False),
    (0o1777, 'other', False),
])
def test_outside_home_folder_rules(tree, etc_r2, mode, owner, allowed):
    uid = {'root': 0, 'user': U, 'other': OTHER}[owner]
    os.chown(etc_r2, uid, uid)
    os.chmod(etc_r2, mode)
    path = os.path.join(etc_r2, 'x.env')
    if allowed:
        assert tree.write(path, SECRET) == 'created'
        assert tree.read(path) == SECRET
        assert meta(path)[1:4] == (0o600, U, G)
    else:
        rule = 'owned by uid %d' % OTHER if owner == 'other' else 'writable by group or others'
        for call in (lambda: tree.write(path, SECRET), lambda: tree.read(path), lambda: tree.stat(path),
                     lambda: tree.remove(path)):
            with pytest.raises(UnsafePath, match=rule):
                call()
        assert os.listdir(etc_r2) == []
    assert meta(etc_r2)[1:3] == (mode, uid)


def test_outside_home_admin_links_above_are_followed_but_not_the_file(tree, base, etc_r2, rootdir):
    os.symlink(etc_r2, os.path.join(base, 'link-to-etc-r2'))
    assert tree.write(os.path.join(base, 'link-to-etc-r2', 'x.env'), SECRET) == 'created'
    assert meta(os.path.join(etc_r2, 'x.env'))[1:4] == (0o600, U, G)
    os.symlink(os.path.join(rootdir, 'credentials'), os.path.join(etc_r2, 'y.env'))
    before = meta(os.path.join(rootdir, 'credentials'))
    with pytest.raises(UnsafePath, match='symbolic link'):
        tree.write(os.path.join(etc_r2, 'y.env'), SECRET)
    with pytest.raises(UnsafePath, match='symbolic link'):
        tree.read(os.path.join(etc_r2, 'y.env'))
    assert meta(os.path.join(rootdir, 'credentials')) == before
    os.mkfifo(os.path.join(etc_r2, 'z.env'))
    with pytest.raises(UnsafePath, match='FIFO'):
        tree.read(os.path.join(etc_r2, 'z.env'))


# ---------------------------------------------------------------- paths and the home itself

def test_path_normalisation(tree, home):
    assert tree.write(home + '//.aws/./credentials', SECRET) == 'created'
    assert tree.read('/' + home + '/.aws//credentials') == SECRET
    for bad, rule in [('relative/path', 'not absolute'), (home + '/../x', "'..'"), (home + '/.aws/../../x', "'..'"),
                      (home, 'home folder itself'), (home + '/', 'home folder itself'), (home + '/a\0b', 'NUL'),
                      ('', 'non-empty')]:
        with pytest.raises(UnsafePath, match=rule):
            tree.write(bad, SECRET)
        with pytest.raises(UnsafePath, match=rule):
            tree.read(bad)


def test_home_rules(base, rootdir):
    other = os.path.join(base, 'other-home')
    mkdir_as(other, OTHER, 0o755)
    with pytest.raises(UnsafePath, match='owned by uid %d' % OTHER):
        UserTree(other, U, G)
    os.symlink(other, os.path.join(base, 'link-home'))
    with pytest.raises(UnsafePath, match='symbolic link'):
        UserTree(os.path.join(base, 'link-home'), OTHER, OTHER)
    with pytest.raises(UnsafePath, match='does not exist'):
        UserTree(os.path.join(base, 'missing-home'), U, G)
    # a render root: the folders above a new home are made (root's, 0755) below a folder only root may write
    made = UserTree(os.path.join(base, 'missing', 'deeper', 'home'), U, G, create_home=True)
    above = os.lstat(os.path.join(base, 'missing', 'deeper'))
    assert (above.st_uid, stat.S_IMODE(above.st_mode)) == (0, 0o755)
    assert os.lstat(made.home).st_uid == U and stat.S_IMODE(os.lstat(made.home).st_mode) == 0o700
    open_base = os.path.join(base, 'open')
    os.mkdir(open_base)
    os.chmod(open_base, 0o777)
    with pytest.raises(UnsafePath, match='group and others cannot write'):
        UserTree(os.path.join(open_base, 'x', 'home'), U, G, create_home=True)
    assert os.listdir(open_base) == []
    with pytest.raises(UnsafePath, match='not a directory'):
        UserTree(os.path.join(rootdir, 'credentials'), U, G)
    with pytest.raises(UnsafePath, match='must not be /'):
        UserTree('/', U, G)
    with pytest.raises(UnsafePath, match='not absolute'):
        UserTree('home', U, G)
    # a root-owned home is accepted
    root_home = os.path.join(base, 'root-home')
    os.mkdir(root_home, 0o755)
    assert UserTree(root_home, U, G).write(os.path.join(root_home, '.s3cfg-x'), SECRET) == 'created'


def test_home_replaced_after_init_is_refused(home):
    tree = UserTree(home, U, G)
    os.rename(home, home + '.old')
    mkdir_as(home, U, 0o755)
    with pytest.raises(UnsafePath, match='replaced'):
        tree.write(os.path.join(home, '.s3cfg-x'), SECRET)
    assert os.listdir(home) == []


def test_create_home_render_root(base):
    private = os.path.join(base, 'private')
    os.mkdir(private, 0o700)
    render = os.path.join(private, 'render')
    tree = UserTree(render, U, G, create_home=True)
    assert meta(render)[:4] == (stat.S_IFDIR, 0o700, U, G)
    assert tree.write(os.path.join(render, '.aws', 'credentials'), SECRET) == 'created'
    assert UserTree(render, U, G, create_home=True).read(os.path.join(render, '.aws', 'credentials')) == SECRET
    shared = os.path.join(base, 'shared')
    os.mkdir(shared)
    os.chmod(shared, 0o1777)
    with pytest.raises(UnsafePath, match='writable by group or others'):
        UserTree(os.path.join(shared, 'render'), U, G, create_home=True)
    assert os.listdir(shared) == []
    foreign = os.path.join(base, 'foreign')
    mkdir_as(foreign, OTHER, 0o755)
    with pytest.raises(UnsafePath, match='owned by uid %d' % OTHER):
        UserTree(os.path.join(foreign, 'render'), U, G, create_home=True)
    assert os.listdir(foreign) == []


# ---------------------------------------------------------------- running as the user itself

def test_works_as_the_user_itself_without_fchown(home):
    path = os.path.join(home, '.config', 'rclone', 'rclone.conf')

    def as_user():
        calls = []
        real_fchown = os.fchown

        def spy(fd, uid, gid):
            calls.append((uid, gid))
            return real_fchown(fd, uid, gid)

        os.fchown = spy
        tree = UserTree(home, U, G)
        results = [tree.write(path, SECRET), tree.write(path, SECRET), tree.write(path, SECRET + b'2'),
                   tree.read(path), tree.stat(path)]
        render = UserTree(os.path.join(home, 'render'), U, G, create_home=True)
        results.append(render.write(os.path.join(home, 'render', 'x.env'), SECRET))
        return results, calls

    results, calls = Child(as_user, uid=U, gid=G).result()
    assert results == ['created', 'unchanged', 'changed', SECRET + b'2', (0o600, U, G), 'created']
    assert calls == []
    assert meta(path)[1:4] == (0o600, U, G)
    assert meta(os.path.dirname(path))[1:4] == (0o700, U, G)
    assert meta(os.path.join(home, 'render'))[1:4] == (0o700, U, G)


def test_errors_as_the_user_name_the_path_and_keep_the_errno(home):
    mkdir_as(os.path.join(home, '.aws'), 0, 0o755)
    path = os.path.join(home, '.aws', 'credentials')

    def as_user():
        try:
            UserTree(home, U, G).write(path, SECRET)
        except _safe_io.PathOSError as exc:
            return exc.errno, str(exc)
        return None

    code, message = Child(as_user, uid=U, gid=G).result()
    assert code == errno.EACCES
    assert path in message and 's3cr3t' not in message
    assert os.listdir(os.path.join(home, '.aws')) == []


def _open_fds():
    return sorted(os.listdir('/proc/self/fd'))


@pytest.mark.timeout(30)
def test_no_descriptor_is_leaked(tree, home, rootdir, base):
    before = _open_fds()
    paths = [os.path.join(home, '.aws', 'credentials'), os.path.join(home, '.config', 'rclone', 'rclone.conf')]
    for path in paths:
        tree.write(path, SECRET)
        tree.write(path, SECRET)
        tree.write(path, SECRET + b'2')
        tree.read(path)
        tree.stat(path)
    tree.read(os.path.join(home, 'missing', 'x'))
    for path in paths:
        assert tree.remove(path) is True
    shutil.rmtree(os.path.join(home, '.aws'))
    shutil.rmtree(os.path.join(home, '.config'))
    os.link(os.path.join(rootdir, 'credentials'), os.path.join(home, '.s3cfg-hard'))
    targets = [_plant_symlinked_intermediate(home, rootdir), _plant_file_as_folder(home, rootdir),
               os.path.join(home, '.s3cfg-hard')]
    for target in targets:
        for call in (tree.read, tree.stat, tree.remove, lambda p: tree.write(p, SECRET)):
            with pytest.raises(UnsafePath):
                call(target)
    outside = os.path.join(base, 'wide')
    os.mkdir(outside)
    os.chmod(outside, 0o777)
    with pytest.raises(UnsafePath):
        tree.write(os.path.join(outside, 'x.env'), SECRET)
    with pytest.raises(UnsafePath):
        UserTree(os.path.join(rootdir, 'credentials'), U, G)
    assert _open_fds() == before


def test_read_file_for_no_particular_user(base, home, rootdir):
    assert _safe_io.read_file(os.path.join(rootdir, 'credentials')) == ROOT_SECRET
    assert _safe_io.read_file(os.path.join(rootdir, 'missing')) is None
    assert _safe_io.read_file(os.path.join(base, 'missing', 'x')) is None
    assert UserTree(home, U, G).write(os.path.join(home, '.aws', 'credentials'), SECRET) == 'created'
    assert _safe_io.read_file(os.path.join(home, '.aws', 'credentials')) == SECRET
    os.symlink(os.path.join(rootdir, 'credentials'), os.path.join(home, '.aws', 'link'))
    os.symlink(rootdir, os.path.join(home, 'folder-link'))
    os.chown(os.path.join(home, '.aws', 'credentials'), OTHER, OTHER)
    for path, rule in [(os.path.join(home, '.aws', 'link'), 'symbolic link'),
                       (os.path.join(home, 'folder-link', 'credentials'), 'symbolic link'),
                       (os.path.join(home, '.aws', 'credentials'), 'owned by uid %d' % OTHER),
                       ('/dev/zero', 'device'), ('relative', 'not absolute'),
                       (os.path.join(rootdir, 'credentials', 'x'), 'not a directory')]:
        with pytest.raises(UnsafePath, match=rule):
            _safe_io.read_file(path)
    with pytest.raises(UnsafePath, match='larger than 3 bytes'):
        _safe_io.read_file(os.path.join(rootdir, 'credentials'), max_bytes=3)


# ---------------------------------------------------------------- the walk to a folder

def test_a_link_above_the_folder_is_refused_where_others_than_root_could_have_made_it(base, home, rootdir):
    """r2_profile path=~/.config/rclone/rclone.conf owner=alice, with ~/.config a link alice made to a root
    folder: the folder of the file is reached without following it, so root's file is neither read nor given."""
    os.symlink(rootdir, os.path.join(home, '.config'))
    before = meta(os.path.join(rootdir, 'credentials'))
    for make in (lambda: UserTree(os.path.join(home, '.config'), U, G),
                 lambda: UserTree(os.path.join(home, '.config', 'rclone'), U, G),
                 lambda: _safe_io.read_file(os.path.join(home, '.config', 'credentials')),
                 lambda: _safe_io.folder_owner(os.path.join(home, '.config'))):
        with pytest.raises(UnsafePath, match='symbolic link'):
            make()
    assert meta(os.path.join(rootdir, 'credentials')) == before


def test_a_link_in_a_folder_only_root_can_change_is_followed(base, home):
    """/home -> /usr/home, made by root: the admin's layout is followed; the user's folders below are not."""
    os.symlink(base, os.path.join(base, 'alias'))   # in base: root's, 0711
    tree = UserTree(os.path.join(base, 'alias', 'home'), U, G)
    assert tree.write(os.path.join(base, 'alias', 'home', '.s3cfg-x'), SECRET) == 'created'
    assert meta(os.path.join(home, '.s3cfg-x'))[1:4] == (0o600, U, G)
    # the same link in a folder others can write is not followed
    shared = os.path.join(base, 'shared')
    os.mkdir(shared)
    os.chmod(shared, 0o1777)
    os.symlink(base, os.path.join(shared, 'alias'))
    with pytest.raises(UnsafePath, match='symbolic link in a folder that others than root can change'):
        UserTree(os.path.join(shared, 'alias', 'home'), U, G)
