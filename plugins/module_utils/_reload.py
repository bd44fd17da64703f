# -*- coding: utf-8 -*-
# Copyright: (c) 2026, cloudflare_r2.credentials contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# FOR INTERNAL COLLECTION USE ONLY
# The interfaces in this file are meant for use within the cloudflare_r2.credentials
# collection and may not remain stable to outside uses. Changes may be made in ANY
# release, even a bugfix release.

"""Running the reload commands of what uses a credential, on the host (``r2_reload``).

A command is an argument vector, never a shell line. It runs as root or as one unix user of a host whose users may
be hostile:

* as a user, the child drops to the user's uid, gid and groups before it runs anything, and checks that it cannot
  get root back; as root, the program and every folder above it must be root's and not writable by group or
  others (a user cannot swap what root runs);
* the environment is a fixed minimal one (``PATH`` of system folders only, ``HOME``, ``USER``, ``LOGNAME``,
  ``LANG``; ``XDG_RUNTIME_DIR`` when the user has one, for ``systemctl --user``): nothing of the module's own;
* no descriptor but stdin (``/dev/null``) and the output pipe is inherited; the child gets a session of its own;
* a time limit (the session's processes are killed when it passes), and at most ``READ_LIMIT`` bytes of output
  kept, of which only the last lines are returned, with anything that looks like a credential masked.

Standard library only: this runs on the hosts.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import os
import posixpath
import pwd
import re
import select
import signal
import stat
import subprocess
import time

from ansible_collections.cloudflare_r2.credentials.plugins.module_utils import _text

SYSTEM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
READ_LIMIT = 64 * 1024
OUTPUT_LINES = 20
LINE_LIMIT = 300
MASK = '<masked>'
# What could be a credential (a secret access key, a session token, a token value, or a piece of one): a run of 16
# or more characters of their alphabets with a digit in it. A slash or an equals sign ends a run (base64 has a
# slash in 64 characters at most), so paths and the names in NAME=VALUE stay; ordinary words have no digit.
_CREDENTIAL_LIKE = re.compile(r'[A-Za-z0-9+_-]{16,}')


class ReloadError(Exception):
    """A command that cannot be run as asked; the message names it, never anything read on the host."""


def mask_output(text, forms=()):
    """``text`` with every one of ``forms`` (secrets known to the caller) and every credential-like run masked."""
    if forms:
        text = _text.redact(text, forms, MASK)
    return _CREDENTIAL_LIKE.sub(lambda m: MASK if re.search('[0-9]', m.group(0)) else m.group(0), text)


def output_lines(data, forms=()):
    """The last OUTPUT_LINES lines of a command's output (bytes), decoded, masked and made printable."""
    text = data.decode('utf-8', 'replace')
    lines = [line.rstrip('\r') for line in text.split('\n')]
    while lines and not lines[-1].strip():
        lines.pop()
    out = []
    for line in lines[-OUTPUT_LINES:]:
        line = _text.printable(mask_output(line, forms))
        out.append(line if len(line) <= LINE_LIMIT else line[:LINE_LIMIT] + '...')
    return out


def _trusted_by_root(path, what):
    """Refuse a program (or a folder above it) that someone but root could change."""
    st = os.stat(path)
    if st.st_uid != 0:
        raise ReloadError('%s %s is owned by uid %d, not root: a command run as root must be root\'s'
                          % (what, path, st.st_uid))
    if stat.S_IMODE(st.st_mode) & 0o022:
        raise ReloadError('%s %s is writable by group or others: a command run as root must be root\'s alone'
                          % (what, path))


def resolve(program, as_root):
    """The absolute path of ``program`` (a path, or a name looked up in SYSTEM_PATH) to execute. As root, its real
    path (links resolved: what is checked is what runs, so no link can be turned elsewhere in between), and every
    folder above it, must be root's and writable by root alone."""
    if '/' in program:
        if not program.startswith('/') or '/../' in program + '/' or '/./' in program + '/':
            raise ReloadError('%s: a program is an absolute path or a name found in %s'
                              % (_text.shown(program), SYSTEM_PATH))
        found = program
    else:
        found = None
        for folder in SYSTEM_PATH.split(':'):
            candidate = posixpath.join(folder, program)
            if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
                found = candidate
                break
        if found is None:
            raise ReloadError('%s: not found in %s' % (_text.shown(program), SYSTEM_PATH))
    if not os.path.isfile(found):
        raise ReloadError('%s: no such program' % _text.shown(found))
    if as_root:
        found = os.path.realpath(found)
        _trusted_by_root(found, 'program')
        folder = posixpath.dirname(found)
        while True:
            _trusted_by_root(folder, 'folder')
            if folder == '/':
                break
            folder = posixpath.dirname(folder)
    return found


def identity(user):
    """(pwd entry, groups) of ``user``; ReloadError when it does not exist."""
    try:
        entry = pwd.getpwnam(user)
    except (KeyError, TypeError):
        raise ReloadError('user %s does not exist' % _text.shown(user, quote=False))
    return entry, os.getgrouplist(entry.pw_name, entry.pw_gid)


def environment(entry):
    env = {'PATH': SYSTEM_PATH, 'LANG': 'C.UTF-8', 'HOME': entry.pw_dir or '/', 'USER': entry.pw_name,
           'LOGNAME': entry.pw_name, 'SHELL': entry.pw_shell or '/bin/sh'}
    runtime = '/run/user/%d' % entry.pw_uid
    try:
        st = os.lstat(runtime)
        if stat.S_ISDIR(st.st_mode) and st.st_uid == entry.pw_uid:
            env['XDG_RUNTIME_DIR'] = runtime
    except OSError:
        pass
    return env


def _become(entry, groups, switch):
    """The child's first steps (before exec): its own umask, then (``switch``) the user's identity for good."""
    def change():
        os.umask(0o022)
        if switch:
            os.setgroups(groups)
            os.setgid(entry.pw_gid)
            os.setuid(entry.pw_uid)
            try:
                os.setuid(0)
            except OSError:
                pass
            else:
                os._exit(126)   # root could be had back: run nothing
            if os.getuid() != entry.pw_uid or os.geteuid() != entry.pw_uid or os.getegid() != entry.pw_gid:
                os._exit(126)
        try:
            os.chdir(entry.pw_dir or '/')
        except OSError:
            os.chdir('/')
    return change


def run(argv, user, timeout):
    """Run ``argv`` as ``user`` ('root' or a user name) for at most ``timeout`` seconds.

    Returns {'rc', 'timed_out', 'seconds', 'output'} (``output``: the bytes kept, at most READ_LIMIT, the end of
    what it wrote). Raises ReloadError when it cannot be started as asked (no program, a program root should not
    run, a user that does not exist, a module that cannot switch to the user).
    """
    if not argv or not all(isinstance(a, str) and a and '\0' not in a for a in argv):
        raise ReloadError('the command must be a non-empty list of non-empty strings')
    entry, groups = identity(user)
    current = os.geteuid()
    if current not in (0, entry.pw_uid):
        raise ReloadError('cannot run as %s: the module runs as uid %d, neither root nor that user'
                          % (entry.pw_name, current))
    program = resolve(argv[0], entry.pw_uid == 0)
    started = time.monotonic()
    try:
        proc = subprocess.Popen(  # pylint: disable=subprocess-popen-preexec-fn
            argv, executable=program, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            close_fds=True, env=environment(entry), cwd='/', start_new_session=True,
            preexec_fn=_become(entry, groups, current != entry.pw_uid))
    except (OSError, subprocess.SubprocessError) as exc:
        raise ReloadError('cannot start %s: %s' % (program, getattr(exc, 'strerror', None) or type(exc).__name__))
    kept = bytearray()
    timed_out = False
    fd = proc.stdout.fileno()
    deadline = started + timeout
    exited_at = None
    try:
        while True:
            now = time.monotonic()
            if now >= deadline:
                timed_out = proc.poll() is None
                break
            if exited_at is None and proc.poll() is not None:
                exited_at = now
            # once the command is gone, what it left running may hold the pipe: a moment more, not until EOF
            if exited_at is not None and now - exited_at > 0.5:
                break
            ready, dummy, dummy2 = select.select([fd], [], [], min(0.2, deadline - now))
            if not ready:
                continue
            try:
                chunk = os.read(fd, 65536)
            except OSError as exc:
                if exc.errno in (errno.EINTR, errno.EAGAIN):
                    continue
                break
            if not chunk:
                break
            kept.extend(chunk)
            if len(kept) > READ_LIMIT:
                del kept[:len(kept) - READ_LIMIT]
        if not timed_out:
            try:
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                timed_out = True
        if timed_out:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                pass
        rc = proc.wait()
    finally:
        proc.stdout.close()
    return {'rc': rc, 'timed_out': timed_out, 'seconds': round(time.monotonic() - started, 3),
            'output': bytes(kept)}
