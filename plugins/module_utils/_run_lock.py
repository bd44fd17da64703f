# -*- coding: utf-8 -*-
# Copyright: (c) 2026, cloudflare_r2.credentials contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# FOR INTERNAL COLLECTION USE ONLY
# The interfaces in this file are meant for use within the cloudflare_r2.credentials
# collection and may not remain stable to outside uses. Changes may be made in ANY
# release, even a bugfix release.

"""A run lock on the controller: one provision, rotate or revoke run per account at a time on one machine.

A run reads what the hosts hold, reconciles, then renders, in separate plays; a second run that reads in
between would roll every token the first one just rendered, or create each one a second time. No single
process spans those plays but the ``ansible-playbook`` process itself, so the lock is held *by that process*:
the lock file names its pid (and its start time, against pid reuse), and a lock whose process is gone is free.
A killed run therefore never leaves a lock behind, and the lock is held until the playbook ends.

The lock file is only read and replaced while holding ``flock`` on a guard file next to it (never waited for:
the guard is held for a moment only), so two runs that start together cannot both take it. It covers the runs
of one machine (``socket.gethostname()``) that use the same lock folder; a lock taken under another host name
counts as held for FOREIGN_MAX_AGE. Runs from several controllers are covered on Cloudflare's side (see
``r2_credential_set``: duplicates are resolved). The folder must be the user's (or root's) and not writable by
other users: whoever may write there can hold or remove every run's lock.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import errno
import fcntl
import hashlib
import json
import os
import re
import socket
import stat
import time

from ansible_collections.cloudflare_r2.credentials.plugins.module_utils import _text

KEY_RE = re.compile(r'[A-Za-z0-9][A-Za-z0-9._-]{0,127}')


def lock_path(folder, key):
    """The lock file of ``key``: named by the key when it is a plain name, else by its digest (the key is not
    validated here: a wrong account id is reported by the inspection that follows, with its own message)."""
    text = '%s' % (key,)
    name = text if KEY_RE.fullmatch(text) else hashlib.sha256(text.encode('utf-8')).hexdigest()[:32]
    return os.path.join(folder, '%s.lock' % name)


class LockError(Exception):
    """The lock could not be taken; the message says who holds it."""


def process_start(pid):
    """The start time of a process (clock ticks since boot, /proc/PID/stat field 22), or None off Linux."""
    try:
        with open('/proc/%d/stat' % pid, 'rb') as handle:
            stat = handle.read().decode('ascii', 'replace')
    except (IOError, OSError):
        return None
    # the command name (field 2) is in parentheses and may hold spaces: count from the last ')'
    fields = stat[stat.rfind(')') + 2:].split()
    return fields[19] if len(fields) > 19 else None


def alive(pid, start):
    try:
        os.kill(pid, 0)
    except OSError as exc:
        if exc.errno == errno.ESRCH:
            return False
    return start is None or process_start(pid) in (None, start)


def me(pid):
    return {'pid': pid, 'start': process_start(pid), 'host': socket.gethostname(),
            'since': datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')}


def _read(path):
    try:
        with open(path, 'rb') as handle:
            data = json.loads(handle.read(4096).decode('utf-8'))
        return data if isinstance(data, dict) and isinstance(data.get('pid'), int) else None
    except (IOError, OSError, ValueError):
        return None


# A lock held from another host name (a lock folder shared between machines, or a container whose host name
# changes) cannot be checked for life: it counts as held for this long after it was taken.
FOREIGN_MAX_AGE = 24 * 3600


def _age(holder, clock):
    try:
        since = datetime.datetime.strptime(holder.get('since') or '', '%Y-%m-%dT%H:%M:%SZ')
    except (TypeError, ValueError):
        return None
    return clock() - since.replace(tzinfo=datetime.timezone.utc).timestamp()


def _free_for(holder, owner, clock):
    if holder is None:
        return True
    if holder.get('host') == owner['host'] and holder['pid'] == owner['pid'] and holder.get('start') == owner['start']:
        return True   # this run already holds it (rotate.yml runs the phases twice)
    if holder.get('host') != owner['host']:
        age = _age(holder, clock)
        return age is None or age > FOREIGN_MAX_AGE
    return not alive(holder['pid'], holder.get('start'))


def describe(holder):
    return _text.printable('pid %s on %s since %s' % (holder.get('pid'), holder.get('host'), holder.get('since')))


def check_folder(folder):
    """Create the lock folder (0700) or check it: a real folder (not a link) of this user or root that no other user
    may write, since whoever may write there can hold or remove the lock of every run."""
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        info = os.lstat(folder)
    except OSError as exc:
        raise LockError('lock_dir: cannot create %s (%s)' % (_text.printable(folder), exc.strerror))
    if not stat.S_ISDIR(info.st_mode):
        raise LockError('lock_dir: %s is not a folder (a link is not followed)' % _text.printable(folder))
    if info.st_uid not in (os.geteuid(), 0) or info.st_mode & stat.S_IWOTH:
        raise LockError('lock_dir: %s must belong to this user (or root) and not be writable by other users (mode '
                        '%04o, owner uid %d)' % (_text.printable(folder), stat.S_IMODE(info.st_mode), info.st_uid))


def acquire(folder, key, pid, timeout, sleep=time.sleep, clock=time.time, waiting=None):
    """Take the lock ``key`` in ``folder`` for process ``pid``; wait up to ``timeout`` seconds for another run.

    Returns (path, previous holder or None when it was free). ``waiting(holder)`` is called once when the run has
    to wait.
    """
    folder = os.path.expanduser(folder)
    check_folder(folder)
    path = lock_path(folder, key)
    owner = me(pid)
    deadline = clock() + max(0.0, float(timeout))
    told = False
    while True:
        holder = None
        try:
            guard = os.open(path + '.guard', os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
            try:
                try:
                    # never blocks: the guard is held for a moment only, and the wait below keeps to the timeout
                    fcntl.flock(guard, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except (IOError, OSError) as exc:
                    if exc.errno not in (errno.EAGAIN, errno.EACCES):
                        raise
                    holder = {'pid': '?', 'host': '?', 'since': 'now (checking the lock)'}
                else:
                    holder = _read(path)
                    if _free_for(holder, owner, clock):
                        _write(path, owner)
                        return path, holder if holder and holder.get('pid') != pid else None
            finally:
                os.close(guard)
        except OSError as exc:
            raise LockError('cannot use the lock file %s (%s)' % (_text.printable(path), exc.strerror))
        if clock() >= deadline:
            raise LockError('another run of this account is in progress (%s; lock %s). It holds the lock until its '
                            'ansible-playbook ends. Nothing was changed: run again when it has finished, or raise the '
                            'wait (provision_lock_timeout).' % (describe(holder), _text.printable(path)))
        if not told and waiting is not None:
            waiting(holder)
            told = True
        sleep(min(1.0, max(0.05, deadline - clock())))


def _write(path, owner):
    temp = '%s.%d.tmp' % (path, os.getpid())
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    try:
        os.write(fd, json.dumps(owner, sort_keys=True).encode('utf-8'))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.rename(temp, path)


def release(folder, key, pid):
    """Give the lock up if ``pid`` holds it; returns whether it did."""
    path = lock_path(os.path.expanduser(folder), key)
    try:
        guard = os.open(path + '.guard', os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(guard, fcntl.LOCK_EX)
        holder = _read(path)
        if holder and holder.get('pid') == pid and holder.get('host') == socket.gethostname():
            os.unlink(path)
            return True
        return False
    finally:
        os.close(guard)
