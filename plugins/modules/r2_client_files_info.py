#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, cloudflare_r2.credentials contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: r2_client_files_info
short_description: Report which R2 credentials users' client files hold, without a secret leaving the host
version_added: 0.2.0
description:
  - For each user and profile, reads the client files that M(cloudflare_r2.credentials.r2_client_files) writes and
    returns the access key id they hold, the recorded fingerprint and expiry, and whether every file of the profile
    agrees (the same key id, secret and session token; the secrets are compared on the host and never returned).
  - A profile whose files disagree (for example a run killed after the aws credentials were written but before the
    rclone remote) is reported with an empty C(access_key_id) and the files that disagree in C(problems) (see
    RV(users[].profiles)), so the next provision run hands the credential out again and repairs every file.
  - Returns nothing else of the files (no other key, no other section, no other value).
  - One call covers every user of a host. Changes nothing. Does not call Cloudflare; not in the
    C(cloudflare_r2.credentials.r2) action group.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Reads only; runs the same in check mode.
  diff_mode:
    support: N/A
  platform:
    platforms: posix
options:
  users:
    description: The users to look at.
    type: list
    elements: dict
    required: true
    suboptions:
      user:
        description: The unix user. A user that does not exist is reported with RV(users[].exists=false).
        type: str
        required: true
      home:
        description: The folder the default paths are under instead of the user's home (a render root).
        type: path
      profiles:
        description: The profiles to report.
        type: list
        elements: dict
        required: true
        suboptions:
          name:
            description: Profile name.
            type: str
            required: true
          rclone:
            description: Whether the profile has an rclone remote.
            type: bool
            default: true
          s3cmd:
            description: Whether the profile has an s3cmd file.
            type: bool
            default: false
          env_file:
            description: Whether the profile has an environment file.
            type: bool
            default: false
          session:
            description: Whether the credential has a session token (temporary credentials).
            type: bool
            default: false
      aws_config_file:
        description: See M(cloudflare_r2.credentials.r2_client_files).
        type: path
      aws_credentials_file:
        description: See M(cloudflare_r2.credentials.r2_client_files).
        type: path
      rclone_config_file:
        description: See M(cloudflare_r2.credentials.r2_client_files).
        type: path
      s3cmd_dir:
        description: See M(cloudflare_r2.credentials.r2_client_files).
        type: path
      env_dir:
        description: See M(cloudflare_r2.credentials.r2_client_files).
        type: path
notes:
  - Files are read with the same rules as M(cloudflare_r2.credentials.r2_client_files) writes them (no link
    followed, regular files only, at most 1 MiB, owned by the user, in folders of the user or root); a path that
    breaks a rule fails the module with one message naming the user and the path.
seealso:
  - module: cloudflare_r2.credentials.r2_client_files
author:
  - Cloudflare R2 credentials maintainers (@cloudflare-r2)
'''

EXAMPLES = r'''
- name: What the deploy user's files hold
  cloudflare_r2.credentials.r2_client_files_info:
    users:
      - user: deploy
        profiles:
          - name: r2-backup
            env_file: true
  register: held
'''

RETURN = r'''
users:
  description: One entry per O(users) item, in order.
  returned: always
  type: list
  elements: dict
  contains:
    user:
      description: The user.
      type: str
    exists:
      description: Whether the user exists (or O(users[].home) was given).
      type: bool
    home:
      description: The folder the default paths are under, or V(null) when the user does not exist.
      type: str
    files_id:
      description:
        - The real identity of RV(users[].home) on the host (device and inode of the folder, or of its nearest
          existing parent followed by the rest of the path), so that two inventory hosts that are one machine can
          tell that they write the same files. V(null) when it cannot be looked at.
      type: str
      returned: when RV(users[].exists)
      sample: "2049:1835010"
    profiles:
      description:
        - Per profile name, C(access_key_id) (empty unless every file agrees), C(fingerprint), C(expiration),
          C(consistent) and C(problems) (which file is missing or disagrees, without values).
      type: dict
  sample:
    - user: deploy
      exists: true
      home: /home/deploy
      profiles:
        r2-backup:
          access_key_id: ed17574386854bf78a67040be0a770b0
          fingerprint: 4f0c1d2e3a4b5c6d7e8f9a0b1c2d3e4f
          expiration: null
          consistent: true
          problems: []
machine:
  description:
    - Which machine the host is, so that two inventory hosts (aliases) of one machine can be told apart from two
      machines. C(id) is a digest of C(/etc/machine-id), else of the boot id (C(/proc/sys/kernel/random/boot_id)),
      or V(null) when neither can be read; C(hostname) is the host's name. The machine id itself is not returned.
  returned: always
  type: dict
  sample: {"id": "machine-id:5a8c0d1e2f3a4b5c6d7e8f9a0b1c2d3e", "hostname": "web1"}
'''

import hashlib
import os
import re
import socket

from ansible.module_utils.common.text.converters import to_native

from ansible_collections.cloudflare_r2.credentials.plugins.module_utils._masked import MaskedModule
from ansible_collections.cloudflare_r2.credentials.plugins.module_utils import _client_files, _ini, _safe_io

PROFILE_OPTIONS = dict(
    name=dict(type='str', required=True),
    rclone=dict(type='bool', default=True),
    s3cmd=dict(type='bool', default=False),
    env_file=dict(type='bool', default=False),
    session=dict(type='bool', default=False),
)


# Where the identity of the machine is read, best first: the machine id, else the boot id (a container may have no
# machine id, and a boot id is shared by every container of one kernel, hence the hostname next to it).
MACHINE_ID_FILES = (('machine-id', '/etc/machine-id'), ('boot-id', '/proc/sys/kernel/random/boot_id'))


class InfoError(Exception):
    pass


def machine_identity(sources=MACHINE_ID_FILES):
    """{id, hostname} of this machine; ``id`` is a digest (machine-id(5): the id itself is confidential)."""
    for kind, path in sources:
        try:
            with open(path, 'rb') as handle:
                text = handle.read(128).decode('ascii', 'replace').strip().lower()
        except (IOError, OSError):
            continue
        if re.fullmatch(r'[0-9a-f-]{32,36}', text) and text.strip('0-'):
            digest = hashlib.sha256(('cloudflare_r2.credentials machine ' + text).encode('ascii')).hexdigest()[:32]
            return {'id': '%s:%s' % (kind, digest), 'hostname': socket.gethostname()}
    return {'id': None, 'hostname': socket.gethostname()}


def folder_identity(path):
    """``device:inode`` of a folder, or of its nearest existing parent followed by the rest of the path (a render
    root not made yet); None when nothing of it can be looked at. Metadata only: nothing is opened."""
    rest = []
    current = os.path.normpath(path)
    while True:
        try:
            info = os.stat(current)
            return '%d:%d%s' % (info.st_dev, info.st_ino, ''.join('/' + part for part in reversed(rest)))
        except OSError:
            parent, name = os.path.split(current)
            if parent == current or not name:
                return None
            rest.append(name)
            current = parent


def describe(spec):
    user = spec['user']
    if _ini.has_control(user) or not user.strip():
        raise InfoError('users: user: must be a unix user name, without control characters')
    entry = {'user': user, 'exists': False, 'home': None, 'profiles': {}}
    try:
        uid, gid, home = _safe_io.lookup_user(user)
    except (KeyError, _safe_io.UnsafePath):
        if not spec.get('home'):
            return entry
        uid, gid, home = None, None, None
    home = spec.get('home') or home
    entry.update(exists=True, home=home, files_id=None)
    try:
        layout = _client_files.Layout(home, dict((k, spec.get(k)) for k in _client_files.PATH_OPTIONS))
        entry['home'] = layout.home
        entry['files_id'] = folder_identity(layout.home)
        try:
            tree = _safe_io.UserTree(layout.home, uid, gid) if uid is not None else None
        except _safe_io.UnsafePath as exc:
            if 'does not exist' not in to_native(exc):
                raise
            tree = None   # a render root not made yet: nothing is held
    except (_client_files.LayoutError, _safe_io.UnsafePath, OSError) as exc:
        raise InfoError('user %s: %s' % (user, to_native(exc)))

    read = _client_files.text_reader(tree, lambda path, exc: InfoError(
        'user %s: %s: refused: %s' % (user, path, to_native(exc))), (_safe_io.UnsafePath, _ini.IniError, OSError))

    for profile in spec['profiles']:
        if not _client_files.NAME_RE.fullmatch(profile['name']):
            raise InfoError('user %s: profiles: name: 1 to 64 letters, digits, ".", "_" or "-"' % user)
        entry['profiles'][profile['name']] = _client_files.held(layout, profile, read)
    return entry


def main():
    module = MaskedModule(
        argument_spec=dict(users=dict(type='list', elements='dict', required=True, options=dict(
            user=dict(type='str', required=True),
            home=dict(type='path'),
            profiles=dict(type='list', elements='dict', required=True, options=PROFILE_OPTIONS),
            **dict((name, dict(type='path')) for name in _client_files.PATH_OPTIONS)))),
        supports_check_mode=True,
    )
    users = []
    try:
        for spec in module.params['users']:
            users.append(describe(spec))
    except InfoError as exc:
        module.fail_json(msg=to_native(exc), users=users)
    module.exit_json(changed=False, users=users, machine=machine_identity())


if __name__ == '__main__':
    main()
