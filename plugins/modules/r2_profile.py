#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, cloudflare_r2.credentials contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: r2_profile
short_description: Manage one section of an INI-style client file (aws config or credentials, rclone.conf)
version_added: 0.1.0
description:
  - Adds, updates or removes one C([section]) of an INI-style file such as C(~/.aws/config),
    C(~/.aws/credentials) or C(~/.config/rclone/rclone.conf), leaving everything else in the file byte for byte
    as it was (other sections, comments, blank lines, keys it does not manage).
  - "Inside its section the module manages only the keys named in O(values): each is updated in place (a key
    whose value is already right keeps its line as written), a missing one is appended after the section's
    last key, and a key whose value is V(null) is removed. Other keys of the section and comments in it are
    kept."
  - "A dict value is written as an aws CLI nested block: C(s3 =) followed by indented C(key = value) lines. Its
    sub-keys follow the same rules: managed ones are updated, others in the block are kept."
  - Writes atomically (a temporary file created with the final owner and mode in the same folder, fsync, then a
    rename) and never writes a secret to its output; see O(secret_keys).
  - "Safe for root writing into a user's folder: neither the file nor its folder is reached through a symbolic
    link, and the file is refused unless it is a regular file with one link, owned by the file's owner or root;
    owner and mode are set on the descriptor of the new file, never by path."
  - The module does not call Cloudflare and is not part of the C(cloudflare_r2.credentials.r2) action group.
extends_documentation_fragment:
  - ansible.builtin.files
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.files
attributes:
  check_mode:
    support: full
    details: Predicts C(changed) and the diff; writes nothing.
  diff_mode:
    support: full
    details: Shows the section before and after, with the values of secret keys replaced by C(********).
  safe_file_operations:
    description: Uses Ansible's strict file operation functions to ensure proper permissions and avoid data corruption.
    support: full
  platform:
    platforms: posix
options:
  path:
    description:
      - The file. It is created if it does not exist; its folder must exist and be owned by O(owner) or root.
      - A symbolic link, FIFO, device or hard-linked file is refused (changed in 0.2.0; 0.1 followed links).
    type: path
    required: true
  section:
    description:
      - Name of the section, without the brackets, for example V(profile backup) in C(~/.aws/config) or
        V(backup) in C(~/.aws/credentials) and C(rclone.conf).
      - Matched with runs of blanks collapsed, so C([profile  backup]) is the same section.
      - May not contain C(]) or a line break.
    type: str
    required: true
  values:
    description:
      - The keys to manage in the section and their values, in the order new keys are written.
      - A string, number or boolean (written V(true) or V(false)) gives a C(key = value) line. Blanks around a
        value are dropped, as INI readers do.
      - A dict gives a nested block (C(key =) and indented C(subkey = value) lines), as the aws CLI reads for
        C(s3) and C(s3api) settings.
      - V(null) removes the key (or sub-key) if it is there.
      - Keys are matched case-insensitively, as the aws CLI does; a managed key that appears more than once in
        the section is kept once.
      - Keys and values may not contain line breaks. The whole option is C(no_log); only the values of
        O(secret_keys) stay masked in the module's output, so the others remain readable in the result.
      - Required with O(state=present).
    type: dict
  secret_keys:
    description:
      - Keys (and sub-keys) whose values are secrets. Their values are shown as C(********) in the diff and are
        masked anywhere else in the module's output.
      - Added to the built-in list C(aws_secret_access_key), C(aws_session_token), C(secret_access_key),
        C(session_token), C(secret_key), C(access_token), which is always masked.
    type: list
    elements: str
    default: []
  state:
    description:
      - V(present) makes sure the section exists with O(values); V(absent) removes the section, its keys and
        the comments inside it (a comment right after its last key is taken as the next section's and kept).
      - With V(absent) a missing file or section is not an error, and the file's attributes are left alone.
    type: str
    choices: [present, absent]
    default: present
notes:
  - A new file is created with mode C(0600) when O(mode) is not given (whatever the umask). Without O(owner) and
    O(group) the file keeps the owner and group it has (a new one gets those of its folder).
  - Only O(mode) (octal), O(owner) and O(group) of the file options are supported; the SELinux options and
    O(attributes) are refused.
  - The new content is written to a temporary file that has the final owner and mode from its first byte, so
    it is never readable by anyone the options exclude.
  - The module fails if O(section) appears more than once in the file with O(state=present) (the aws CLI
    refuses such files too); O(state=absent) removes every copy.
  - A section header is recognised only at the start of a line; C(#) and C(;) start comments.
seealso:
  - name: aws CLI configuration files
    description: The C(config) and C(credentials) files and nested settings.
    link: https://docs.aws.amazon.com/cli/latest/userguide/cli-configure-files.html
  - name: rclone configuration for Cloudflare R2
    description: The C(s3) remote with C(provider = Cloudflare).
    link: https://developers.cloudflare.com/r2/examples/rclone/
author:
  - Cloudflare R2 credentials maintainers (@cloudflare-r2)
'''

EXAMPLES = r'''
- name: Profile in ~/.aws/config
  cloudflare_r2.credentials.r2_profile:
    path: /home/deploy/.aws/config
    section: profile backup
    values:
      region: auto
      endpoint_url: https://0123456789abcdef0123456789abcdef.eu.r2.cloudflarestorage.com
      s3:
        addressing_style: path
      request_checksum_calculation: when_required
      response_checksum_validation: when_required
    mode: '0600'
    owner: deploy
    group: deploy

- name: Credentials in ~/.aws/credentials (no session token any more)
  cloudflare_r2.credentials.r2_profile:
    path: /home/deploy/.aws/credentials
    section: backup
    values:
      aws_access_key_id: "{{ backup_token.access_key_id }}"
      aws_secret_access_key: "{{ backup_secret }}"
      aws_session_token: null
    mode: '0600'
    owner: deploy
    group: deploy

- name: rclone remote with an extra secret key masked in diffs
  cloudflare_r2.credentials.r2_profile:
    path: /home/deploy/.config/rclone/rclone.conf
    section: backup
    values:
      type: s3
      provider: Cloudflare
      access_key_id: "{{ backup_token.access_key_id }}"
      secret_access_key: "{{ backup_secret }}"
      endpoint: https://0123456789abcdef0123456789abcdef.r2.cloudflarestorage.com
      region: auto
      acl: private
      sse_customer_key: "{{ vault_sse_key }}"
    secret_keys: [sse_customer_key]
    mode: '0600'

- name: Remove the profile, keep everything else
  cloudflare_r2.credentials.r2_profile:
    path: /home/deploy/.aws/config
    section: profile backup
    state: absent
'''

RETURN = r'''
path:
  description: The file that was managed.
  returned: always
  type: str
  sample: /home/deploy/.aws/credentials
section:
  description: The section name.
  returned: always
  type: str
  sample: profile backup
created:
  description: Whether the file did not exist and was (or in check mode would be) created.
  returned: always
  type: bool
added:
  description: Managed keys that were added to the section (nested ones as C(key.subkey)). Names only.
  returned: always
  type: list
  elements: str
  sample: [aws_session_token]
updated:
  description: Managed keys whose value changed. Names only.
  returned: always
  type: list
  elements: str
  sample: [aws_secret_access_key, s3.addressing_style]
removed:
  description: Keys removed (values of V(null)), or every key of the section with O(state=absent). Names only.
  returned: always
  type: list
  elements: str
  sample: []
'''

import grp
import os
import posixpath
import pwd

from ansible.module_utils.common.text.converters import to_bytes, to_native

from ansible_collections.cloudflare_r2.credentials.plugins.module_utils._masked import MaskedModule
from ansible_collections.cloudflare_r2.credentials.plugins.module_utils import _ini, _safe_io, _text
# The editor lives in _ini (one INI format for the collection); these names stay importable from here.
from ansible_collections.cloudflare_r2.credentials.plugins.module_utils._ini import (  # noqa: F401 pylint: disable=unused-import
    MASK,
    ProfileError,
    apply,
    leaf_strings,
    mask_section,
    normalize_section,
    secret_key_set,
    validate_section,
    validate_values,
)

UNSUPPORTED_FILE_ARGS = ('seuser', 'serole', 'setype', 'selevel', 'attributes')


def _mode(value):
    """Permission bits of the mode option (octal only: symbolic modes are relative to a file that may be a link)."""
    if value is None:
        return None
    if isinstance(value, int):
        mode = value
    else:
        try:
            mode = int(str(value), 8)
        except ValueError:
            raise ProfileError('mode: give an octal mode such as 0600 (symbolic modes are not supported)')
    if mode & ~0o777:
        raise ProfileError('mode: only permission bits (at most 0777)')
    return mode


def _owner(params, folder):
    """(uid, gid) the file gets: owner and group by name or number; without owner, those of the existing file
    (else of its folder), so that root editing a user's file never hands it to root or anyone else."""
    if params['owner'] is None and params['group'] is None:
        owner = _safe_io.folder_owner(folder)
        if owner is None:
            return os.geteuid(), os.getegid()
        existing = _safe_io.UserTree(folder, owner[0], owner[1]).stat(params['path'])
        return (existing[1], existing[2]) if existing else owner
    try:
        if params['owner'] is None:
            uid = os.geteuid()
        elif str(params['owner']).isdigit():
            uid = int(params['owner'])
        else:
            uid = pwd.getpwnam(params['owner']).pw_uid
        if params['group'] is not None:
            gid = int(params['group']) if str(params['group']).isdigit() else grp.getgrnam(params['group']).gr_gid
        elif params['owner'] is not None:
            gid = pwd.getpwuid(uid).pw_gid
        else:
            gid = os.getegid()
    except KeyError:
        raise ProfileError('owner/group: no such user or group')
    return uid, gid


def main():
    module = MaskedModule(
        argument_spec=dict(
            path=dict(type='path', required=True),
            section=dict(type='str', required=True),
            values=dict(type='dict', no_log=True),
            secret_keys=dict(type='list', elements='str', default=[], no_log=False),
            state=dict(type='str', default='present', choices=['present', 'absent']),
        ),
        required_if=[('state', 'present', ['values'])],
        add_file_common_args=True,
        supports_check_mode=True,
    )
    params = module.params
    values = params['values'] or {}
    secret_keys = secret_key_set(params['secret_keys'])
    # values is no_log so that nothing of it reaches the target's log; in the result only the secrets stay masked,
    # so that diffs and the invocation keep readable non-secret values (region, endpoint, ...).
    secrets = set(leaf_strings(values, secret_keys))
    module.no_log_values.difference_update(set(leaf_strings(values)) - secrets)
    module.no_log_values.update(secrets)
    _text.mask_escaped(module.no_log_values)   # the secrets in their repr() and JSON forms too

    path = posixpath.normpath(params['path'])
    result = dict(changed=False, path=path, section=params['section'], created=False, added=[], updated=[],
                  removed=[])
    try:
        for name in UNSUPPORTED_FILE_ARGS:
            if params.get(name):
                raise ProfileError('%s: not supported (the file is written on a descriptor, never by path)' % name)
        validate_section(params['section'])
        validate_values(values)
        mode = _mode(params['mode'])
        if not path.startswith('/'):
            path = posixpath.normpath(posixpath.join(os.getcwd(), path))
            result['path'] = path
        params['path'] = path
        folder = posixpath.dirname(path)
        uid, gid = _owner(params, folder)
        try:
            # The file's folder is the tree: the file is opened and replaced without following a link, and refused
            # unless it is a plain file of the owner (or root); the folder itself must be the owner's or root's.
            tree = _safe_io.UserTree(folder, uid, gid)
        except _safe_io.UnsafePath as exc:
            missing = 'does not exist' in to_native(exc)
            if params['state'] == 'absent' and missing:
                module.exit_json(**result)
            if not (module.check_mode and missing):
                raise ProfileError('path: the folder of %s: %s' % (path, to_native(exc)))
            tree = None   # check mode: the folder would be created first
        data = tree.read(path) if tree else None
        exists = data is not None
        old_text = _ini.decode(data, path) if exists else ''
        new_text, before, after, report = apply(old_text, params['section'], values, params['state'])
        result.update(report)
        content_changed = new_text != old_text or (not exists and params['state'] == 'present')
        result['created'] = content_changed and not exists
        changed = content_changed
        attrs = tree.stat(path) if exists else None
        if attrs is not None and (mode is None or params['state'] == 'absent'):
            mode = attrs[0]   # no mode asked (or absent): the file keeps its own
        if mode is None:
            mode = 0o600      # a new file, whatever the umask
        elif secrets and params['mode'] is None and params['state'] == 'present' and mode & 0o077:
            mode = 0o600      # a secret is never written into a file others can read
        wanted = (mode, uid, gid)
        if params['state'] == 'present' and attrs is not None and attrs != wanted:
            changed = True
        if changed and not module.check_mode:
            tree.write(path, to_bytes(new_text, errors='surrogate_or_strict'), mode)
    except (ProfileError, _safe_io.UnsafePath) as exc:
        module.fail_json(msg=to_native(exc), **result)
    except (IOError, OSError) as exc:
        module.fail_json(msg='cannot write %s: %s' % (path, to_native(exc.strerror or exc)), **result)
    result['changed'] = changed

    if module._diff:
        header = '%s [%s]' % (path, normalize_section(params['section']))
        diffs = [{'before_header': header, 'after_header': header,
                  'before': mask_section(before, secret_keys), 'after': mask_section(after, secret_keys)}]
        names = ('mode', 'owner', 'group')
        if attrs is not None and attrs != wanted and params['state'] == 'present':
            before, after = {'path': path}, {'path': path}
            for name, old, new in zip(names, attrs, wanted):
                if old != new:
                    before[name], after[name] = ('%04o' % old, '%04o' % new) if name == 'mode' else (old, new)
            diffs.append({'before': before, 'after': after})
        elif result['created']:
            after = {'path': path, 'mode': '%04o' % mode}
            after.update((name, params[name]) for name in ('owner', 'group') if params[name] is not None)
            diffs.append({'before': {}, 'after': after})
        result['diff'] = diffs
    module.exit_json(**result)


if __name__ == '__main__':
    main()
