"""Throwaway unix users for tests that play a host's own (possibly hostile) users.

``users(prefix, names)`` is a context manager that creates ``prefix_name`` users with homes under /home
(mode 0755, so that another local user can look in, as on many real hosts) and removes them afterwards.
``run_as(user, argv)`` runs a command as that user (real uid, gid and groups), the way a local user would.
Needs root; ``available()`` says whether the tests can run.
"""

from __future__ import annotations

import contextlib
import grp
import hashlib
import os
import pwd
import subprocess
import time


def available() -> bool:
    return os.geteuid() == 0 and os.path.exists('/usr/sbin/useradd')


def _retry(argv):
    """useradd/userdel lock /etc/passwd; two pytest workers may meet there."""
    for attempt in range(20):
        proc = subprocess.run(argv, capture_output=True, text=True, check=False)
        if proc.returncode == 0 or 'lock' not in (proc.stderr or '').lower():
            return proc
        time.sleep(0.2 * (attempt + 1))
    return proc


def create(name: str, groups=()) -> pwd.struct_passwd:
    remove(name)
    proc = _retry(['useradd', '--create-home', '--shell', '/bin/sh', '--user-group', name])
    if proc.returncode != 0:
        raise RuntimeError('useradd %s: %s' % (name, proc.stderr))
    for group in groups:
        _retry(['usermod', '-a', '-G', group, name])
    entry = pwd.getpwnam(name)
    os.chmod(entry.pw_dir, 0o755)
    return entry


def remove(name: str):
    try:
        pwd.getpwnam(name)
    except KeyError:
        return
    _retry(['userdel', '--remove', '--force', name])
    try:
        grp.getgrnam(name)
        _retry(['groupdel', name])
    except KeyError:
        pass


@contextlib.contextmanager
def users(prefix: str, names):
    created = {}
    try:
        for name in names:
            created[name] = create('%s_%s' % (prefix, name))
        yield created
    finally:
        for entry in created.values():
            remove(entry.pw_name)


def _demote(entry):
    def change():
        os.setgroups(os.getgrouplist(entry.pw_name, entry.pw_gid))
        os.setgid(entry.pw_gid)
        os.setuid(entry.pw_uid)
        os.chdir(entry.pw_dir)
    return change


def run_as(entry, argv, **kwargs) -> subprocess.CompletedProcess:
    kwargs.setdefault('capture_output', True)
    kwargs.setdefault('text', True)
    kwargs.setdefault('timeout', 60)
    env = {'HOME': entry.pw_dir, 'USER': entry.pw_name, 'PATH': '/usr/bin:/bin'}
    return subprocess.run(argv, preexec_fn=_demote(entry), env=env, check=kwargs.pop('check', True),  # pylint: disable=subprocess-popen-preexec-fn
                          **kwargs)


def start_as(entry, argv, **kwargs) -> subprocess.Popen:
    env = {'HOME': entry.pw_dir, 'USER': entry.pw_name, 'PATH': '/usr/bin:/bin'}
    return subprocess.Popen(argv, preexec_fn=_demote(entry), env=env, **kwargs)  # pylint: disable=subprocess-popen-preexec-fn


def snapshot(path: str) -> dict:
    """{path: (kind, uid, gid, mode, sha256 or link target)} of ``path`` and everything below it (no link followed)."""
    out = {}

    def one(item):
        st = os.lstat(item)
        if os.path.islink(item):
            out[item] = ('link', st.st_uid, st.st_gid, st.st_mode, os.readlink(item))
        elif os.path.isdir(item):
            out[item] = ('dir', st.st_uid, st.st_gid, st.st_mode, sorted(os.listdir(item)))
            for name in sorted(os.listdir(item)):
                one(os.path.join(item, name))
        else:
            with open(item, 'rb') as handle:
                out[item] = ('file', st.st_uid, st.st_gid, st.st_mode, st.st_nlink,
                             hashlib.sha256(handle.read()).hexdigest())
    one(path)
    return out
