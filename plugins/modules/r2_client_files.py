#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, cloudflare_r2.credentials contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: r2_client_files
short_description: Write every S3 client file of one user's R2 profiles in one call, safely
version_added: 0.2.0
description:
  - "Writes (or removes) the client profiles of one unix user for any number of R2 credentials in one call: the aws
    CLI/boto3 C(~/.aws/config) and C(~/.aws/credentials), the rclone remote, the s3cmd configuration and the
    environment file, as the M(cloudflare_r2.credentials.client_config) role documents them."
  - INI files are merged section by section (other sections, comments and keys survive byte for byte); the s3cmd
    and environment files are written whole and carry a first line that marks them as the collection's. A file
    without that mark is never changed or removed.
  - Every file is replaced atomically (a temporary file created C(0600) in the same folder, owner and mode set on
    the descriptor, fsync, rename, fsync of the folder), so a killed run leaves the old or the new file whole. A
    stray temporary file of a killed run is removed by the next run.
  - "Folders it creates are C(0700) and the user's; an existing folder that holds only client files (C(~/.aws),
    C(~/.config/rclone), C(~/.config/r2)) and is wider is tightened and reported in RV(tightened)."
  - Everything is read and checked before the first write, so a refused path leaves every file as it was.
  - The module does not call Cloudflare and is not part of the C(cloudflare_r2.credentials.r2) action group.
extends_documentation_fragment:
  - cloudflare_r2.credentials.client_files
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Reports what would change, per file; writes nothing.
  diff_mode:
    support: full
    details: The sections and files before and after, with every secret value replaced by C(********).
  platform:
    platforms: posix
options:
  user:
    description:
      - The unix user the files belong to (owner, and the home the default paths are in).
      - The module runs as root or as that user.
    type: str
    required: true
  home:
    description:
      - The folder to write under instead of the user's home from the password database (staging, benchmarks).
    type: path
  create_home:
    description:
      - Create O(home) (C(0700), the user's) when it does not exist. Its parent must exist, be owned by root and
        not be writable by group or others.
    type: bool
    default: false
  state:
    description: Default of O(profiles[].state).
    type: str
    choices: [present, absent]
    default: present
  addressing_style:
    description: Default of O(profiles[].addressing_style).
    type: str
    choices: [path, virtual, auto]
    default: path
  rclone:
    description: Default of O(profiles[].rclone).
    type: bool
    default: true
  s3cmd:
    description: Default of O(profiles[].s3cmd).
    type: bool
    default: false
  env_file:
    description: Default of O(profiles[].env_file).
    type: bool
    default: false
  profiles:
    description:
      - One entry per credential. See the M(cloudflare_r2.credentials.client_config) role for what each file gets.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description:
          - Profile name (1 to 64 letters, digits, C(.), C(_) or C(-)); V(default) writes C([default]) in the aws
            config.
        type: str
        required: true
      state:
        description:
          - V(present) writes the profile; V(absent) removes its sections and its s3cmd and environment files (only
            those the collection wrote).
        type: str
        choices: [present, absent]
      access_key_id:
        description: S3 Access Key ID. Required with O(profiles[].state=present).
        type: str
      secret_access_key:
        description: S3 Secret Access Key. Required with O(profiles[].state=present).
        type: str
      session_token:
        description: Session token of temporary credentials.
        type: str
      endpoint_url:
        description: The credential's S3 endpoint. Required unless O(profiles[].account_id) or
          O(profiles[].endpoint_override) is given.
        type: str
      account_id:
        description: Cloudflare account id; with O(profiles[].jurisdiction) gives the endpoint.
        type: str
      jurisdiction:
        description: Jurisdiction of the computed endpoint (V(default), V(eu), V(fedramp), ...).
        type: str
      endpoint_override:
        description: An endpoint that wins over the others (proxy, private gateway, test emulator).
        type: str
      object_level:
        description: The credential is limited to objects (rclone C(no_check_bucket = true)). Defaults to whether
          O(profiles[].permission) starts with C(object_).
        type: bool
      permission:
        description: The credential's R2 permission.
        type: str
      addressing_style:
        description: S3 addressing style; defaults to O(addressing_style).
        type: str
        choices: [path, virtual, auto]
      rclone:
        description: Write the rclone remote (V(false) removes it); defaults to O(rclone).
        type: bool
      s3cmd:
        description: Write the s3cmd file (V(false) removes it when it is the collection's); defaults to O(s3cmd).
        type: bool
      env_file:
        description: Write the environment file (V(false) removes it when it is the collection's); defaults to
          O(env_file).
        type: bool
      expiration:
        description: Expiry of temporary credentials (RFC 3339), recorded with the credentials.
        type: str
      fingerprint:
        description: Opaque summary recorded with the credentials (the provision role's record of the copy).
        type: str
seealso:
  - module: cloudflare_r2.credentials.r2_client_files_info
  - module: cloudflare_r2.credentials.r2_s3_check
  - module: cloudflare_r2.credentials.r2_profile
author:
  - Cloudflare R2 credentials maintainers (@cloudflare-r2)
'''

EXAMPLES = r'''
- name: Two profiles for the backup user, as root
  cloudflare_r2.credentials.r2_client_files:
    user: backup
    profiles:
      - name: r2-backup
        access_key_id: "{{ backup_token.access_key_id }}"
        secret_access_key: "{{ backup_token.secret_access_key }}"
        account_id: "{{ cloudflare_account_id }}"
        jurisdiction: eu
        permission: object_read_write
        env_file: true
      - name: r2-old
        state: absent
  become: true

- name: Stage the files under a render root
  cloudflare_r2.credentials.r2_client_files:
    user: deploy
    home: /srv/staging/deploy
    create_home: true
    profiles: "{{ deploy_profiles }}"
'''

RETURN = r'''
files:
  description: Every file the profiles touch, with what happened to it.
  returned: always
  type: list
  elements: dict
  contains:
    path:
      description: The file.
      type: str
    kind:
      description: V(aws_config), V(aws_credentials), V(rclone), V(s3cmd) or V(env_file).
      type: str
    state:
      description: V(created), V(changed), V(removed), V(unchanged) or V(absent) (not there, not wanted).
      type: str
  sample: [{path: /home/backup/.aws/credentials, kind: aws_credentials, state: changed}]
profiles:
  description: Per profile what the files now hold (or would hold in check mode). No secret.
  returned: always
  type: dict
  sample: {r2-backup: {state: present, access_key_id: ed17574386854bf78a67040be0a770b0, fingerprint: null,
           expiration: null}}
tightened:
  description: Existing folders of client files that were wider than C(0700) and were tightened.
  returned: always
  type: list
  elements: str
home:
  description: The folder the default paths are under.
  returned: success
  type: str
'''

from ansible.module_utils.common.text.converters import to_bytes, to_native

from ansible_collections.cloudflare_r2.credentials.plugins.module_utils._masked import MaskedModule
from ansible_collections.cloudflare_r2.credentials.plugins.module_utils import _client_files, _ini, _safe_io, _text

PATH_OPTIONS = dict((name, dict(type='path')) for name in _client_files.PATH_OPTIONS)
PROFILE_OPTIONS = dict(
    name=dict(type='str', required=True),
    state=dict(type='str', choices=['present', 'absent']),
    access_key_id=dict(type='str', no_log=False),
    secret_access_key=dict(type='str', no_log=True),
    session_token=dict(type='str', no_log=True),
    endpoint_url=dict(type='str'),
    account_id=dict(type='str'),
    jurisdiction=dict(type='str'),
    endpoint_override=dict(type='str'),
    object_level=dict(type='bool'),
    permission=dict(type='str'),
    addressing_style=dict(type='str', choices=['path', 'virtual', 'auto']),
    rclone=dict(type='bool'),
    s3cmd=dict(type='bool'),
    env_file=dict(type='bool'),
    expiration=dict(type='str'),
    fingerprint=dict(type='str', no_log=False),
)


def argument_spec():
    spec = dict(
        user=dict(type='str', required=True),
        home=dict(type='path'),
        create_home=dict(type='bool', default=False),
        state=dict(type='str', default='present', choices=['present', 'absent']),
        addressing_style=dict(type='str', default='path', choices=['path', 'virtual', 'auto']),
        rclone=dict(type='bool', default=True),
        s3cmd=dict(type='bool', default=False),
        env_file=dict(type='bool', default=False),
        profiles=dict(type='list', elements='dict', required=True, options=PROFILE_OPTIONS),
    )
    spec.update(PATH_OPTIONS)
    return spec


class ClientFilesError(Exception):
    pass


def open_user(params, check_mode):
    """(layout, tree) of the user (tree None: a home to be created, in check mode); ClientFilesError names the
    user."""
    try:
        uid, gid, home = _safe_io.lookup_user(params['user'])
    except (KeyError, _safe_io.UnsafePath) as exc:
        raise ClientFilesError('user %s: %s' % (params['user'], to_native(exc)))
    try:
        layout = _client_files.Layout(params.get('home') or home,
                                      dict((k, params.get(k)) for k in _client_files.PATH_OPTIONS))
        create = params.get('create_home', False)
        try:
            tree = _safe_io.UserTree(layout.home, uid, gid, create_home=create and not check_mode)
        except _safe_io.UnsafePath as exc:
            if not (check_mode and create and 'does not exist' in to_native(exc)):
                raise
            tree = None
    except (_client_files.LayoutError, _safe_io.UnsafePath, OSError) as exc:
        raise ClientFilesError('user %s: %s' % (params['user'], to_native(exc)))
    return layout, tree


def reader(tree, user):
    return _client_files.text_reader(tree, lambda path, exc: ClientFilesError(
        'user %s: %s: refused, nothing was changed: %s' % (user, path, to_native(exc))),
        (_safe_io.UnsafePath, _ini.IniError, OSError))


def predicted(tree, path, old, new):
    """Check mode: the state a write would report (the text, or the owner and mode of a file of the same text)."""
    if new != old:
        return 'changed'
    attrs = tree.stat(path) if tree is not None else None
    return 'unchanged' if attrs is None or attrs == (0o600, tree.uid, tree.gid) else 'changed'


def write_files(module, tree, plan, files):
    """Apply the plan, file by file, appending the per-file states to ``files`` as it goes (so that a failure
    half way reports what was written before it)."""
    if tree is not None:
        for path in sorted(plan):
            if plan[path]['new'] is not None and (plan[path]['wanted'] or plan[path]['new'] != plan[path]['old']):
                tree.preflight(path)
    for path in sorted(plan):
        item = plan[path]
        old, new = item['old'], item['new']
        if new is None:
            state = 'absent' if old is None else 'removed'
            if old is not None and not module.check_mode:
                tree.remove(path)
        elif old is None:
            state = 'created'
            if not module.check_mode:
                tree.write(path, to_bytes(new, errors='surrogate_or_strict'))
        elif item['wanted'] or new != old:
            if module.check_mode:
                state = predicted(tree, path, old, new)
            else:
                # also for unchanged text: owner and mode are set right (unchanged when they already are)
                outcome = tree.write(path, to_bytes(new, errors='surrogate_or_strict'))
                state = 'unchanged' if outcome == 'unchanged' else 'changed'
        else:
            state = 'unchanged'
        files.append({'path': path, 'kind': item['kind'], 'state': state})


def main():
    module = MaskedModule(argument_spec=argument_spec(), supports_check_mode=True)
    _text.mask_escaped(module.no_log_values)   # the secrets in their repr() and JSON forms too
    params = module.params
    user = params['user']
    result = dict(changed=False, files=[], profiles={}, tightened=[])
    if _ini.has_control(user) or not user.strip():
        module.fail_json(msg='user: must be a unix user name, without control characters', **result)
    profiles, errors = _client_files.normalize_profiles(
        [dict((k, v) for k, v in p.items() if v is not None) for p in params['profiles']],
        dict((k, params[k]) for k in ('state', 'addressing_style', 'rclone', 's3cmd', 'env_file')))
    if errors:
        module.fail_json(msg='user %s: %s' % (user, '; '.join(errors)), **result)
    try:
        layout, tree = open_user(params, module.check_mode)
        result['home'] = layout.home
        try:
            plan = _client_files.plan_user(layout, profiles, reader(tree, user))
        except (_client_files.LayoutError, _ini.IniError) as exc:
            raise ClientFilesError('user %s: %s' % (user, to_native(exc)))
        try:
            write_files(module, tree, plan, result['files'])
        except (_safe_io.UnsafePath, OSError) as exc:
            written = [f['path'] for f in result['files'] if f['state'] in ('created', 'changed', 'removed')]
            raise ClientFilesError('user %s: %s (files written before it: %s)' % (
                user, to_native(exc), ', '.join(written) or 'none'))
        result['tightened'] = list(getattr(tree, 'tightened', []))
    except ClientFilesError as exc:
        module.fail_json(msg=to_native(exc), **result)
    for profile in profiles:
        if profile['state'] == 'present':
            result['profiles'][profile['name']] = {
                'state': 'present', 'access_key_id': profile['access_key_id'],
                'fingerprint': profile['fingerprint'], 'expiration': profile['expiration']}
        else:
            result['profiles'][profile['name']] = {'state': 'absent'}
    result['changed'] = any(f['state'] in ('created', 'changed', 'removed') for f in result['files']) \
        or bool(result['tightened'])
    if module._diff:
        result['diff'] = [{'before_header': header, 'after_header': header, 'before': before, 'after': after}
                          for path in sorted(plan) for header, before, after in plan[path]['diffs']]
    module.exit_json(**result)


if __name__ == '__main__':
    main()
