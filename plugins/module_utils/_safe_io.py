# -*- coding: utf-8 -*-
# Copyright: (c) 2026, cloudflare_r2.credentials contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# FOR INTERNAL COLLECTION USE ONLY
# The interfaces in this file are meant for use within the cloudflare_r2.credentials
# collection and may not remain stable to outside uses. Changes may be made in ANY
# release, even a bugfix release.

"""Reading and writing one unix user's client files safely, from root or from the user itself.

Host-side modules run as root and put S3 credentials into other users' homes (``~/.aws/credentials``,
``~/.config/rclone/rclone.conf``, ``~/.s3cfg-NAME``, ``~/.config/r2/NAME.env``).  Those users may be
hostile: they own the folders the files live in and can replace any entry there at any moment with a
symbolic link, a hard link, a FIFO or a folder of their own.  ``UserTree`` is the one way this collection
touches such files.

How (a descriptor walk, not privilege switching):

* Every folder below the home is opened relative to its parent's descriptor with
  ``O_DIRECTORY | O_NOFOLLOW``; a symbolic link anywhere below the home is refused, never followed.
  Files are opened with ``O_NOFOLLOW | O_NONBLOCK`` (a FIFO cannot hang the module) and checked with
  ``fstat`` on the descriptor actually opened, so there is no gap between the check and the use.
* Writes go to a fresh temporary file created with ``O_CREAT | O_EXCL | O_NOFOLLOW`` and mode 0600 in
  the target's folder (private from the first byte, whatever the umask), are given to the user with
  ``fchown`` / ``fchmod`` on that descriptor, fsynced, and renamed over the target with
  ``rename(src_dir_fd, dst_dir_fd)``.  ``rename`` replaces the directory entry and never writes through
  it, so a link planted at the target only ever loses its entry.  Nothing is ever chowned or chmodded by
  path.
* Folders created below the home are made 0700 and chowned through their own descriptor; the leaf
  folder of a client file (``~/.aws``, ``~/.config/rclone``, ...) is tightened to 0700 if it is wider.

Why not switch the effective uid to the user instead: the walk works the same when running as root and
when running as the user itself (``become`` as that user); there is no process-wide euid/egid/groups
state to restore on every error path (a missed restore would leave the rest of the module running with
the wrong identity); and privilege switching alone does not stop a user from pointing a link at a file
the user may write but should not have handed to the module.  Every decision here is taken on the
object actually opened.

Paths outside the home (admin overrides such as ``/etc/r2/x.env``) are allowed: their folder must
already exist (it is never created), is opened by its absolute path (links above it are the admin's),
must be owned by the user or root and must not be writable by group or others unless sticky; the file
itself follows the same rules as below the home.

Errors: ``UnsafePath`` for a refusal (``NoSuchUser``, a subclass, for an unknown user); any other failure
is a ``PathOSError`` (an OSError keeping the errno).  Messages name the path and the rule broken, never
file content.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import fcntl
import os
import posixpath
import pwd
import stat
import time

# A callable taking the temporary file's path, called after the temporary file is written and synced and
# just before it is renamed over the target.  For tests only (to kill a write half-way); None otherwise.
_before_rename = None

TEMP_MARK = '.r2tmp-'

_O_CLOEXEC = getattr(os, 'O_CLOEXEC', 0)
_O_NOCTTY = getattr(os, 'O_NOCTTY', 0)
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_NONBLOCK | _O_CLOEXEC
_ADMIN_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NONBLOCK | _O_CLOEXEC
# Folders on the way are only looked up in (O_PATH needs no read permission: /home may be 0711).
_WALK_FLAGS = (os.O_PATH | os.O_DIRECTORY | _O_CLOEXEC) if hasattr(os, 'O_PATH') else _ADMIN_DIR_FLAGS
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | _O_NOCTTY | _O_CLOEXEC
_TEMP_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | _O_NOCTTY | _O_CLOEXEC
_CHUNK = 64 * 1024


class UnsafePath(Exception):
    """A path refused: the message names the path and the rule broken, never file content.

    ``path`` and ``rule`` hold the two parts (``path`` may be None).
    """

    def __init__(self, message, path=None, rule=None):
        super(UnsafePath, self).__init__(message)
        self.path = path
        self.rule = rule


class NoSuchUser(UnsafePath):
    """``lookup_user`` was given a user that does not exist."""


class _TooLarge(UnsafePath):
    """A file larger than the limit asked for."""


def _refuse(path, rule):
    return UnsafePath('refusing %s: %s' % (path, rule), path=path, rule=rule)


class PathOSError(OSError):
    """An OSError (errno kept) whose message names the path and what was being done; never content."""


def _os_error(exc, path, action):
    """A PathOSError naming the path for a failure that is not a refusal (one already named is kept)."""
    if isinstance(exc, PathOSError):
        return exc
    return PathOSError(exc.errno, 'cannot %s %s: %s' % (action, path, exc.strerror or exc))


def lookup_user(name):
    """``(uid, gid, home)`` of the unix user ``name`` (a name, or a numeric uid); NoSuchUser if unknown."""
    try:
        if isinstance(name, int) and not isinstance(name, bool):
            entry = pwd.getpwuid(name)
        else:
            entry = pwd.getpwnam(name)
    except (KeyError, TypeError, ValueError):
        raise NoSuchUser('user %s does not exist' % (name,), path=None, rule='no such user')
    return entry.pw_uid, entry.pw_gid, entry.pw_dir


def folder_owner(folder):
    """``(uid, gid)`` of the folder at absolute ``folder`` (reached by ``walk``), or None if it does not exist."""
    fd = walk(folder, _WALK_FLAGS)
    if fd is None:
        return None
    try:
        st = os.fstat(fd)
    finally:
        _close(fd)
    return st.st_uid, st.st_gid


def read_file(path, max_bytes=1024 * 1024):
    """Bytes of the regular file at absolute ``path``, or None if it or its folder does not exist.

    For a file of no particular user (the module's own input): the refusals of ``UserTree.read`` with the
    owner of the file's folder as the user, that folder taken as the home (reached by ``walk``, so no link that
    anybody but root could have made is followed on the way).
    """
    path = _normalize(path)
    folder = posixpath.dirname(path)
    owner = folder_owner(folder)
    if owner is None:
        return None
    return UserTree(folder, owner[0], owner[1]).read(path, max_bytes)


def _trusted(st):
    """A folder only root can change: owned by root (or the running user, who is the one at risk) and not
    writable by group or others. A link in such a folder was made by its owner."""
    return stat.S_ISDIR(st.st_mode) and st.st_uid in (0, os.geteuid()) and not st.st_mode & 0o022


def walk(path, flags=_WALK_FLAGS, create=False):
    """A descriptor of the folder at absolute ``path``, reached from ``/`` one component at a time.

    A symbolic link is followed only where it sits in a trusted folder (``/home -> /usr/home`` made by root);
    anywhere else (a user's folder, ``/tmp``) it is refused, so nobody but root can redirect the walk. With
    ``create``, missing folders are made (0755, the running user's) but only inside a trusted folder. Returns
    None when a folder is missing and ``create`` is false.
    """
    parts = [part for part in _normalize(path, 'folder').split('/') if part]
    fd = os.open('/', flags if not parts else _WALK_FLAGS)
    current = ''
    try:
        for index, part in enumerate(parts):
            here = os.fstat(fd)
            current += '/' + part
            last_flags = flags if index == len(parts) - 1 else _WALK_FLAGS
            try:
                st = os.stat(part, dir_fd=fd, follow_symlinks=False)
            except OSError as exc:
                if exc.errno != errno.ENOENT:
                    raise _os_error(exc, current, 'look up')
                if not create:
                    return None
                if not _trusted(here):
                    raise _refuse(current, 'cannot create it: its parent must be a folder owned by root that group '
                                  'and others cannot write')
                try:
                    os.mkdir(part, 0o755, dir_fd=fd)
                except OSError as exc:
                    if exc.errno != errno.EEXIST:
                        raise _os_error(exc, current, 'create folder')
                st = os.stat(part, dir_fd=fd, follow_symlinks=False)
            if stat.S_ISLNK(st.st_mode):
                if not _trusted(here):
                    raise _refuse(current, 'it is a symbolic link in a folder that others than root can change')
                sub = os.open(part, last_flags, dir_fd=fd)
            elif not stat.S_ISDIR(st.st_mode):
                raise _refuse(current, 'it is not a directory')
            else:
                try:
                    sub = os.open(part, last_flags | os.O_NOFOLLOW, dir_fd=fd)
                except OSError as exc:
                    if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                        raise _refuse(current, 'it was replaced while being opened')
                    raise _os_error(exc, current, 'open folder')
            _close(fd)
            fd = sub
        result, fd = fd, None
        return result
    finally:
        if fd is not None:
            _close(fd)


LOCK_WAIT = 5.0   # seconds a writer waits for another writer's lock on a folder


def _lock(dir_fd):
    """Take an exclusive flock on a folder's descriptor within LOCK_WAIT seconds; False if it stays taken."""
    deadline = time.monotonic() + LOCK_WAIT
    while True:
        try:
            fcntl.flock(dir_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK) or time.monotonic() >= deadline:
                return False
            time.sleep(0.05)


def _normalize(path, what='path'):
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if not isinstance(path, str) or not path:
        raise UnsafePath('refusing %r: the %s must be a non-empty string' % (path, what), path=path, rule='not a string')
    if '\0' in path:
        raise _refuse(repr(path), 'the %s contains a NUL byte' % what)
    if not path.startswith('/'):
        raise _refuse(path, 'the %s is not absolute' % what)
    if '..' in path.split('/'):
        raise _refuse(path, "the %s contains a '..' component" % what)
    norm = posixpath.normpath(path)
    if norm.startswith('//'):
        norm = '/' + norm.lstrip('/')
    return norm


def _kind(mode):
    """What a non-regular file is, in words."""
    if stat.S_ISLNK(mode):
        return 'it is a symbolic link'
    if stat.S_ISDIR(mode):
        return 'it is a directory'
    if stat.S_ISFIFO(mode):
        return 'it is a FIFO'
    if stat.S_ISSOCK(mode):
        return 'it is a socket'
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return 'it is a device'
    return 'it is not a regular file'


def _close(fd):
    if fd is not None:
        try:
            os.close(fd)
        except OSError:
            pass


class UserTree(object):
    """Files of one unix user (``uid``, ``gid``) below ``home``, and admin-given files elsewhere.

    ``home`` is opened with ``O_DIRECTORY | O_NOFOLLOW`` on its last component (the components above it
    are the admin's and resolved normally) and must be owned by ``uid`` or root.  When it is missing and
    ``create_home`` is true (a staging "render root"), its parent must be owned by root (or by the
    running user) and not writable by group or others; it is then made 0700 and given to ``uid:gid``.
    A missing home otherwise, or one that is not a folder or is a link, raises UnsafePath.

    ``tightened`` lists the leaf folders whose mode was narrowed to 0700 by ``write``.
    """

    def __init__(self, home, uid, gid, create_home=False):
        self.uid = int(uid)
        self.gid = int(gid)
        self.home = _normalize(home, 'home folder')
        if self.home == '/':
            raise _refuse(self.home, 'the home folder must not be /')
        self.tightened = []
        self._home_id = None
        try:
            fd = self._open_home(create=create_home)
            try:
                st = os.fstat(fd)
                self._home_id = (st.st_dev, st.st_ino)
            finally:
                _close(fd)
        except OSError as exc:
            raise _os_error(exc, self.home, 'open home folder')

    def __repr__(self):
        return 'UserTree(%r, %d, %d)' % (self.home, self.uid, self.gid)

    # ------------------------------------------------------------ checks

    def _owners(self):
        return (self.uid, 0)

    def _check_file(self, st, path):
        """Refuse anything but a regular file with one link owned by uid. A root-owned file in a user's folder is
        refused too: the user may have moved it there from a folder they can write (a shared one), and root would
        read it and hand its content over with the new file."""
        if not stat.S_ISREG(st.st_mode):
            raise _refuse(path, _kind(st.st_mode))
        if st.st_nlink > 1:
            raise _refuse(path, 'it has %d hard links' % st.st_nlink)
        if st.st_uid != self.uid:
            raise _refuse(path, 'it is owned by uid %d, not by uid %d' % (st.st_uid, self.uid))

    def _check_dir(self, st, path):
        if not stat.S_ISDIR(st.st_mode):
            raise _refuse(path, 'it is not a directory')
        if st.st_uid not in self._owners():
            raise _refuse(path, 'the folder is owned by uid %d, not by uid %d or root' % (st.st_uid, self.uid))

    def _fix_owner(self, fd, st):
        """Give the object behind ``fd`` to uid:gid, calling fchown only when needed (so it works as the user)."""
        if (st.st_uid, st.st_gid) != (self.uid, self.gid):
            os.fchown(fd, self.uid, self.gid)

    # ------------------------------------------------------------ opening folders

    def _open_sub_dir(self, parent_fd, name, path):
        """Open folder ``name`` below ``parent_fd`` without following a link; None if missing."""
        try:
            return os.open(name, _DIR_FLAGS, dir_fd=parent_fd)
        except OSError as exc:
            if exc.errno == errno.ENOENT:
                return None
            if exc.errno in (errno.ENOTDIR, errno.ELOOP):
                try:
                    is_link = stat.S_ISLNK(os.stat(name, dir_fd=parent_fd, follow_symlinks=False).st_mode)
                except OSError:
                    is_link = False
                raise _refuse(path, 'it is a symbolic link' if is_link else 'it is not a directory')
            raise _os_error(exc, path, 'open folder')

    def _open_home(self, create=False):
        parent, name = posixpath.split(self.home)
        pfd = walk(parent, _WALK_FLAGS, create=create)
        if pfd is None:
            raise _refuse(self.home, 'the home folder does not exist (nor does %s)' % parent)
        try:
            fd = self._open_sub_dir(pfd, name, self.home)
            created = False
            if fd is None:
                if not create:
                    raise _refuse(self.home, 'the home folder does not exist')
                pst = os.fstat(pfd)
                if pst.st_uid not in (0, os.geteuid()):
                    raise _refuse(parent, 'cannot create %s in it: it is owned by uid %d, not by root' % (name, pst.st_uid))
                if pst.st_mode & 0o022:
                    raise _refuse(parent, 'cannot create %s in it: it is writable by group or others' % name)
                try:
                    os.mkdir(name, 0o700, dir_fd=pfd)
                    created = True
                except OSError as exc:
                    if exc.errno != errno.EEXIST:
                        raise _os_error(exc, self.home, 'create folder')
                fd = self._open_sub_dir(pfd, name, self.home)
                if fd is None:
                    raise _refuse(self.home, 'the home folder vanished while being created')
        finally:
            _close(pfd)
        try:
            st = os.fstat(fd)
            if st.st_uid not in self._owners():
                raise _refuse(self.home, 'the home folder is owned by uid %d, not by uid %d or root' % (st.st_uid, self.uid))
            if self._home_id is not None and (st.st_dev, st.st_ino) != self._home_id:
                raise _refuse(self.home, 'the home folder was replaced')
            if created:
                self._fix_owner(fd, st)
                os.fchmod(fd, 0o700)
            return fd
        except BaseException:
            _close(fd)
            raise

    def _open_admin_dir(self, folder, create):
        """The folder of a path outside home: must exist, owned by uid or root, not group/other writable."""
        fd = walk(folder, _ADMIN_DIR_FLAGS)
        if fd is None:
            if create:
                raise _refuse(folder, 'the folder does not exist (folders outside the home are never created)')
            return None
        try:
            st = os.fstat(fd)
            self._check_dir(st, folder)
            if st.st_mode & 0o022 and not st.st_mode & stat.S_ISVTX:
                raise _refuse(folder, 'the folder is writable by group or others and not sticky')
            return fd
        except BaseException:
            _close(fd)
            raise

    def _dir_is_empty(self, fd):
        try:
            return not os.listdir(fd)
        except OSError:
            return False

    def _open_parent(self, path, create=False):
        """``(dir_fd, name, leaf_path)`` for ``path``; ``leaf_path`` is the folder's path when it is a leaf
        folder below home (a candidate for tightening), else None.  None when a folder is missing and
        ``create`` is false."""
        if path == self.home:
            raise _refuse(path, 'it is the home folder itself')
        prefix = self.home + '/'
        if not path.startswith(prefix):
            folder, name = posixpath.split(path)
            fd = self._open_admin_dir(folder, create)
            if fd is None:
                return None
            return fd, name, None
        parts = path[len(prefix):].split('/')
        name = parts.pop()
        fd = self._open_home()
        current = self.home
        try:
            for part in parts:
                current = current + '/' + part
                sub = self._open_sub_dir(fd, part, current)
                created = False
                if sub is None:
                    if not create:
                        _close(fd)
                        return None
                    try:
                        os.mkdir(part, 0o700, dir_fd=fd)
                        created = True
                    except OSError as exc:
                        if exc.errno != errno.EEXIST:
                            raise _os_error(exc, current, 'create folder')
                    sub = self._open_sub_dir(fd, part, current)
                    if sub is None:
                        raise _refuse(current, 'the folder vanished while being created')
                _close(fd)
                fd = sub
                try:
                    st = os.fstat(fd)
                    self._check_dir(st, current)
                    if created and (st.st_uid, st.st_gid) != (self.uid, self.gid):
                        # Ours (root's) only when it is the empty folder just made, not something moved in its place.
                        if not self._dir_is_empty(fd):
                            raise _refuse(current, 'the folder just created was replaced')
                        self._fix_owner(fd, st)
                    if created:
                        os.fchmod(fd, 0o700)
                except OSError as exc:
                    raise _os_error(exc, current, 'set up folder')
            return fd, name, (current if parts else None)
        except BaseException:
            _close(fd)
            raise

    # ------------------------------------------------------------ files

    def _lstat(self, dir_fd, name, path):
        """lstat of ``name`` below ``dir_fd`` checked like a file to read; None if missing."""
        try:
            st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except OSError as exc:
            if exc.errno == errno.ENOENT:
                return None
            raise _os_error(exc, path, 'stat')
        self._check_file(st, path)
        return st

    @staticmethod
    def _too_large(path, max_bytes):
        rule = 'it is larger than %d bytes' % max_bytes
        return _TooLarge('refusing %s: %s' % (path, rule), path=path, rule=rule)

    def _read_at(self, dir_fd, name, path, max_bytes):
        """Content of a checked regular file below ``dir_fd``; None if missing."""
        st = self._lstat(dir_fd, name, path)
        if st is None:
            return None
        if st.st_size > max_bytes:
            raise self._too_large(path, max_bytes)
        try:
            fd = os.open(name, _READ_FLAGS, dir_fd=dir_fd)
        except OSError as exc:
            if exc.errno == errno.ENOENT:
                return None
            if exc.errno == errno.ELOOP:
                raise _refuse(path, 'it is a symbolic link')
            if exc.errno == errno.ENXIO:
                raise _refuse(path, 'it is not a regular file')
            raise _os_error(exc, path, 'open')
        try:
            fst = os.fstat(fd)
            self._check_file(fst, path)
            if (fst.st_dev, fst.st_ino) != (st.st_dev, st.st_ino):
                raise _refuse(path, 'it was replaced while being opened')
            if fst.st_size > max_bytes:
                raise self._too_large(path, max_bytes)
            chunks = []
            left = max_bytes + 1
            while left > 0:
                chunk = os.read(fd, min(left, _CHUNK))
                if not chunk:
                    break
                chunks.append(chunk)
                left -= len(chunk)
            if left <= 0:
                raise self._too_large(path, max_bytes)
            return b''.join(chunks)
        except OSError as exc:
            raise _os_error(exc, path, 'read')
        finally:
            _close(fd)

    def _remove_stale(self, dir_fd, name):
        """Unlink ``.<name>.r2tmp-*`` regular files (owned by uid or root) left by a killed earlier run."""
        prefix = self._temp_prefix(name)
        try:
            entries = os.listdir(dir_fd)
        except OSError:
            return
        for entry in entries:
            if not entry.startswith(prefix):
                continue
            try:
                st = os.stat(entry, dir_fd=dir_fd, follow_symlinks=False)
                if stat.S_ISREG(st.st_mode) and st.st_uid in self._owners():
                    os.unlink(entry, dir_fd=dir_fd)   # unlink never follows a link, and only removes the name
            except OSError:
                pass

    @staticmethod
    def _temp_prefix(name):
        return '.' + name[:200] + TEMP_MARK

    def _write_temp(self, dir_fd, name, path, folder, data, mode):
        """Write ``data`` to a fresh temp file next to ``name`` and rename it over ``name``."""
        prefix = self._temp_prefix(name)
        tmp = tfd = None
        for dummy in range(100):
            candidate = prefix + os.urandom(8).hex()
            try:
                tfd = os.open(candidate, _TEMP_FLAGS, 0o600, dir_fd=dir_fd)
            except OSError as exc:
                if exc.errno == errno.EEXIST:
                    continue
                raise _os_error(exc, path, 'create a temporary file in %s for' % folder)
            tmp = candidate
            break
        if tmp is None:
            raise _refuse(path, 'no free temporary file name next to it')
        tmp_path = folder + '/' + tmp
        renamed = False
        try:
            try:
                tst = os.fstat(tfd)
                self._fix_owner(tfd, tst)
                os.fchmod(tfd, mode)
                view = memoryview(data)
                while view:
                    written = os.write(tfd, view[:_CHUNK])
                    view = view[written:]
                os.fsync(tfd)
            except OSError as exc:
                raise _os_error(exc, tmp_path, 'write temporary file')
            if _before_rename is not None:
                _before_rename(tmp_path)  # pylint: disable=not-callable
            try:
                os.rename(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
            except OSError as exc:
                if exc.errno in (errno.EISDIR, errno.ENOTEMPTY, errno.EEXIST):
                    raise _refuse(path, 'it became a directory')
                raise _os_error(exc, path, 'rename %s to' % tmp_path)
            renamed = True
            try:
                os.fsync(dir_fd)
            except OSError as exc:
                raise _os_error(exc, folder, 'sync folder')
            try:
                after = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            except OSError:
                after = None
            if after is None or (after.st_dev, after.st_ino) != (tst.st_dev, tst.st_ino):
                raise _refuse(path, 'its temporary file was replaced while being written')
        finally:
            _close(tfd)
            if not renamed:
                try:
                    os.unlink(tmp, dir_fd=dir_fd)
                except OSError:
                    pass

    # ------------------------------------------------------------ public

    def read(self, path, max_bytes=1024 * 1024):
        """Bytes of the regular file at absolute ``path``, or None if it (or a folder on the way) does not exist.

        Refuses (UnsafePath) links, FIFOs, sockets, devices, folders, files with more than one hard link,
        files owned by anyone but uid, folders owned by anyone but uid or root, and files larger than
        ``max_bytes`` (at most ``max_bytes + 1`` bytes are ever read).
        """
        path = _normalize(path)
        try:
            opened = self._open_parent(path)
            if opened is None:
                return None
            dir_fd, name, dummy = opened
            try:
                return self._read_at(dir_fd, name, path, max_bytes)
            finally:
                _close(dir_fd)
        except OSError as exc:
            raise _os_error(exc, path, 'read')

    def stat(self, path):
        """``(mode, uid, gid)`` of the regular file at ``path`` (mode without the file type bits), or None
        if missing; same walk and refusals as ``read`` (for check mode)."""
        path = _normalize(path)
        try:
            opened = self._open_parent(path)
            if opened is None:
                return None
            dir_fd, name, dummy = opened
            try:
                st = self._lstat(dir_fd, name, path)
                if st is None:
                    return None
                return stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid
            finally:
                _close(dir_fd)
        except OSError as exc:
            raise _os_error(exc, path, 'stat')

    def remove(self, path):
        """Unlink the file at ``path`` if it exists (same walk and refusals as ``read``). True if removed."""
        path = _normalize(path)
        try:
            opened = self._open_parent(path)
            if opened is None:
                return False
            dir_fd, name, dummy = opened
            try:
                if self._lstat(dir_fd, name, path) is None:
                    return False
                try:
                    os.unlink(name, dir_fd=dir_fd)
                except OSError as exc:
                    if exc.errno == errno.ENOENT:
                        return False
                    raise
                try:
                    os.fsync(dir_fd)
                except OSError:
                    pass
                return True
            finally:
                _close(dir_fd)
        except OSError as exc:
            raise _os_error(exc, path, 'remove')

    def preflight(self, path):
        """Check, before any write of a run, that ``path`` can be written: every folder on the way that exists is
        safe, and a folder outside home exists (it is never created). Raises UnsafePath; writes nothing."""
        path = _normalize(path)
        if path.startswith(self.home + '/'):
            opened = self._open_parent(path)   # missing folders below home are fine: write creates them
        else:
            opened = self._open_parent(path, create=True)   # outside home: refuses a missing folder
        if opened is not None:
            _close(opened[0])

    def write(self, path, data, mode=0o600):
        """Atomically replace the file at ``path`` with ``data`` (bytes), owned by uid:gid with ``mode``.

        Returns 'created', 'changed' or 'unchanged' (same bytes, owner and mode: nothing written).
        Missing folders below home are created 0700 (never outside home); an existing leaf folder of the
        user's wider than 0700 is tightened and recorded in ``tightened``.  An existing target that is not
        a plain regular file of uid raises UnsafePath and nothing is touched.
        """
        if isinstance(data, (bytearray, memoryview)):
            data = bytes(data)
        if not isinstance(data, bytes):
            raise TypeError('UserTree.write needs bytes, not %s' % type(data).__name__)
        if not isinstance(mode, int) or mode & ~0o777:
            raise ValueError('UserTree.write: mode must be permission bits (at most 0o777), not %r' % (mode,))
        path = _normalize(path)
        try:
            return self._write(path, data, mode)
        except OSError as exc:
            raise _os_error(exc, path, 'write')

    def _write(self, path, data, mode):
        dir_fd, name, leaf = self._open_parent(path, create=True)
        try:
            folder = posixpath.dirname(path)
            existing = self._lstat(dir_fd, name, path)
            if leaf is not None:
                try:
                    dst = os.fstat(dir_fd)
                    if dst.st_uid == self.uid and stat.S_IMODE(dst.st_mode) & 0o077:
                        os.fchmod(dir_fd, 0o700)
                        self.tightened.append(leaf)
                except OSError as exc:
                    raise _os_error(exc, leaf, 'tighten folder')
            # A temporary file is stale only if no other writer is between creating and renaming it: writers hold
            # an exclusive flock on the folder for that span. The lock is tried for a bounded time (a user could
            # hold a lock on their own folder forever); without it stale files stay for a later run.
            locked = _lock(dir_fd)
            if locked:
                self._remove_stale(dir_fd, name)
            if existing is not None and existing.st_size == len(data) \
                    and (existing.st_uid, existing.st_gid) == (self.uid, self.gid) \
                    and stat.S_IMODE(existing.st_mode) == mode:
                try:
                    current = self._read_at(dir_fd, name, path, len(data))
                except _TooLarge:
                    current = None
                if current == data:
                    return 'unchanged'
            self._write_temp(dir_fd, name, path, folder, data, mode)
            return 'created' if existing is None else 'changed'
        finally:
            _close(dir_fd)   # closing the folder's descriptor releases its lock
