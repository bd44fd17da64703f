#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, cloudflare_r2.credentials contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: r2_profile_info
short_description: Report what INI and env client files on a host hold, without their secrets
version_added: 0.1.0
description:
  - Reads INI-style client files (C(~/.aws/config), C(~/.aws/credentials), C(rclone.conf), an s3cmd
    configuration) and C(KEY=VALUE) environment files on the host it runs on, and returns for each file whether
    it exists, its mode, owner and group, and per section the values of the keys that are not secret and the
    B(names) of the secret keys that hold a value.
  - Never returns the value of a secret key, so a play can decide what to provision without moving a secret
    to the controller. Which keys are secret is set by O(secret_keys).
  - Changes nothing. The module does not call Cloudflare and is not part of the C(cloudflare_r2.credentials.r2)
    action group.
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
  files:
    description:
      - The files to read, in the order of RV(files).
    type: list
    elements: dict
    required: true
    suboptions:
      path:
        description:
          - The file. A missing file is not an error (RV(files[].exists=false)); a symbolic link, a FIFO, a
            device, a hard-linked file or a file that cannot be read fails the module.
        type: path
        required: true
      format:
        description:
          - "V(ini) reads C([section]) headers and C(key = value) (or C(key: value)) lines as the aws CLI does;
            C(#) and C(;) start comments. An empty C(key =) followed by indented C(sub = value) lines (an aws
            nested block such as C(s3)) is read as a dict; other continuation lines are ignored, and so are lines
            before the first section header."
          - V(env) reads C(KEY=VALUE) lines (an optional leading C(export), one pair of surrounding quotes
            dropped) as one section named C(env). Other lines are ignored.
          - A section or key that appears more than once is merged, the later one winning. Section names are
            returned with runs of blanks collapsed, keys as they are written.
        type: str
        choices: [ini, env]
        default: ini
      sections:
        description:
          - Only these sections (matched with runs of blanks collapsed, as M(cloudflare_r2.credentials.r2_profile)
            does). A section that is not in the file is left out of RV(files[].sections).
          - All sections when not set. For O(files[].format=env) the only section is V(env).
        type: list
        elements: str
  secret_keys:
    description:
      - More names of secret keys, in addition to the built-in ones. Names are matched case-insensitively, in
        every section, in nested blocks and in environment files.
      - Built in are C(aws_secret_access_key), C(aws_session_token), C(secret_access_key), C(session_token),
        C(secret_key) and C(access_token) (the list of M(cloudflare_r2.credentials.r2_profile)), and every name
        that contains C(secret), C(token), C(passw) or C(passphrase), or is C(pass) or ends in C(_pass) or
        C(private_key).
    type: list
    elements: str
    default: []
notes:
  - "Only the values of the keys the collection writes and reads back are returned (key ids, endpoints, regions,
    C(type), C(provider), the addressing style and the bookkeeping keys C(r2_fingerprint), C(r2_expiration),
    C(R2_CREDENTIALS_EXPIRATION)); other keys are never returned, whatever their name (changed in 0.2.0: 0.1
    returned every key that did not look secret)."
  - Files are read without following a link (neither the file nor its folder), only when they are regular files
    with one link owned by the folder's owner, and at most 1 MiB; anything else fails the module with a
    message naming the path. A FIFO cannot make it hang.
  - Reading another user's files needs the privileges to do so (C(become)).
seealso:
  - module: cloudflare_r2.credentials.r2_profile
author:
  - Cloudflare R2 credentials maintainers (@cloudflare-r2)
'''

EXAMPLES = r'''
- name: What the deploy user already holds
  cloudflare_r2.credentials.r2_profile_info:
    files:
      - path: /home/deploy/.aws/credentials
        sections: [backup]
      - path: /home/deploy/.aws/config
        sections: [profile backup]
      - path: /home/deploy/.config/rclone/rclone.conf
      - path: /home/deploy/.config/r2/backup.env
        format: env
  register: held

- name: Provision only where the key id differs or the secret is missing
  ansible.builtin.set_fact:
    backup_needs_credentials: >-
      {{ not held.files[0].exists
         or held.files[0].sections.backup is not defined
         or held.files[0].sections.backup['values'].aws_access_key_id | default('') != backup_key_id
         or 'aws_secret_access_key' not in held.files[0].sections.backup.secrets }}
'''

RETURN = r'''
files:
  description: One entry per O(files) item, in the same order. Never contains the value of a secret key.
  returned: always
  type: list
  elements: dict
  contains:
    path:
      description: The path as given (after C(~) and variable expansion).
      type: str
      sample: /home/deploy/.aws/credentials
    exists:
      description: Whether the file exists (a broken symbolic link does not).
      type: bool
      sample: true
    mode:
      description: The permission bits as a four-digit octal string; V(null) when the file does not exist.
      type: str
      sample: '0600'
    owner:
      description: The name of the file's owner (the numeric id as a string if it has no name); V(null) when the
        file does not exist.
      type: str
      sample: deploy
    group:
      description: The name of the file's group (the numeric id as a string if it has no name); V(null) when the
        file does not exist.
      type: str
      sample: deploy
    sections:
      description:
        - Section name to its content; empty when the file does not exist. For O(files[].format=env) the one
          section is named C(env).
        - "Each section is a dict with C(values): the keys that are not secret and their values (a string, or
          for an aws nested block a dict of its sub-keys and values), and C(secrets): the sorted names of the
          secret keys that hold a non-empty value (a secret sub-key of a nested block as C(key.subkey))."
        - In Jinja write C(section['values']), not C(section.values), which is the dict's method.
      type: dict
      sample:
        backup:
          values:
            aws_access_key_id: ed17574386854bf78a67040be0a770b0
            r2_expiration: "2026-11-28T11:00:00Z"
          secrets: [aws_secret_access_key, aws_session_token]
'''

import grp
import posixpath
import pwd
import stat

from ansible.module_utils.common.text.converters import to_native

from ansible_collections.cloudflare_r2.credentials.plugins.module_utils._masked import MaskedModule
from ansible_collections.cloudflare_r2.credentials.plugins.module_utils import _client_files, _ini, _safe_io

ENV_SECTION = 'env'


def secret_predicate(extra):
    return _ini.secret_predicate(extra)


def _name(lookup, number):
    try:
        return lookup(number)[0]
    except KeyError:
        return str(number)


def public_only(entries):
    """The entries whose keys the collection uses (nested blocks filtered the same way)."""
    out = {}
    for key, value in entries.items():
        if isinstance(value, dict):
            value = dict((k, v) for k, v in value.items() if k.lower() in _client_files.PUBLIC_KEYS)
            if value:
                out[key] = value
        elif key.lower() in _client_files.PUBLIC_KEYS:
            out[key] = value
    return out


def describe(spec, is_secret):
    """The RV(files) entry of one O(files) item; raises UnsafePath, IniError or OSError if it cannot be read."""
    path = posixpath.normpath(spec['path'])
    entry = dict(path=spec['path'], exists=False, mode=None, owner=None, group=None, sections={})
    folder = posixpath.dirname(path)
    owner = _safe_io.folder_owner(folder)
    if owner is None:
        return entry
    try:
        tree = _safe_io.UserTree(folder, owner[0], owner[1])
    except _safe_io.UnsafePath as exc:
        if 'does not exist' in to_native(exc):
            return entry
        raise
    data = tree.read(path)
    if data is None:
        return entry
    mode, uid, gid = tree.stat(path)
    text = _ini.decode(data, path)
    if spec['format'] == 'env':
        sections = {ENV_SECTION: _ini.read_env(text)}
    else:
        sections = _ini.read_ini(text)
    if spec['sections'] is not None:
        wanted = set(_ini.normalize_section(name) for name in spec['sections'])
        sections = dict((name, body) for name, body in sections.items() if name in wanted)
    bodies = {}
    for name, body in sections.items():
        split = _ini.split_secrets(body, is_secret)
        bodies[name] = {'values': public_only(split['values']), 'secrets': split['secrets']}
    entry.update(exists=True, mode='%04o' % stat.S_IMODE(mode), owner=_name(pwd.getpwuid, uid),
                 group=_name(grp.getgrgid, gid), sections=bodies)
    return entry


def main():
    module = MaskedModule(
        argument_spec=dict(
            files=dict(type='list', elements='dict', required=True, options=dict(
                path=dict(type='path', required=True),
                format=dict(type='str', default='ini', choices=['ini', 'env']),
                sections=dict(type='list', elements='str'),
            )),
            secret_keys=dict(type='list', elements='str', default=[], no_log=False),
        ),
        supports_check_mode=True,
    )
    is_secret = secret_predicate(module.params['secret_keys'])
    files = []
    for spec in module.params['files']:
        try:
            files.append(describe(spec, is_secret))
        except (_safe_io.UnsafePath, _ini.IniError, IOError, OSError) as exc:
            # the error names the file, never its content
            module.fail_json(msg='cannot read %s: %s' % (spec['path'], to_native(exc)), files=files)
    module.exit_json(changed=False, files=files)


if __name__ == '__main__':
    main()
