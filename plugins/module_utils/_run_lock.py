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

The lock file is only read and replaced while holding ``flock`` on a guard file next to it, so two runs that
start together cannot both take it. It covers the runs of one machine (``socket.gethostname()``); runs from
several controllers are covered on Cloudflare's side (see ``r2_credential_set``: duplicates are resolved).
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
import time

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


def _free_for(holder, owner):
    if holder is None:
        return True
    if holder.get('host') == owner['host'] and holder['pid'] == owner['pid'] and holder.get('start') == owner['start']:
        return True   # this run already holds it (rotate.yml runs the phases twice)
    return holder.get('host') == owner['host'] and not alive(holder['pid'], holder.get('start'))


def describe(holder):
    return 'pid %s on %s since %s' % (holder.get('pid'), holder.get('host'), holder.get('since'))


def acquire(folder, key, pid, timeout, sleep=time.sleep, clock=time.time, waiting=None):
    """Take the lock ``key`` in ``folder`` for process ``pid``; wait up to ``timeout`` seconds for another run.

    Returns (path, previous holder or None when it was free). ``waiting(holder)`` is called once when the run has
    to wait.
    """
    folder = os.path.expanduser(folder)
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
    except OSError as exc:
        raise LockError('lock_dir: cannot create %s (%s)' % (folder, exc.strerror))
    path = lock_path(folder, key)
    owner = me(pid)
    deadline = clock() + max(0.0, float(timeout))
    told = False
    while True:
        guard = os.open(path + '.guard', os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(guard, fcntl.LOCK_EX)
            holder = _read(path)
            if _free_for(holder, owner):
                temp = '%s.%d.tmp' % (path, os.getpid())
                fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
                try:
                    os.write(fd, json.dumps(owner, sort_keys=True).encode('utf-8'))
                    os.fsync(fd)
                finally:
                    os.close(fd)
                os.rename(temp, path)
                return path, holder if holder and holder.get('pid') != pid else None
        finally:
            os.close(guard)
        if clock() >= deadline:
            raise LockError('another run of this account is in progress (%s; lock %s). It holds the lock until its '
                            'ansible-playbook ends. Nothing was changed: run again when it has finished, or raise the '
                            'wait (provision_lock_timeout).' % (describe(holder), path))
        if not told and waiting is not None:
            waiting(holder)
            told = True
        sleep(min(1.0, max(0.05, deadline - clock())))


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
