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
  - Writes atomically (a temporary file in the same folder, then a rename) and never writes a secret to its
    output; see O(secret_keys).
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
      - The file. It is created (empty, then with the section) if it does not exist; its folder must exist.
      - A symbolic link is followed and its target is written.
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
  - A new file is created with mode C(0600) when O(mode) is not given (whatever the umask); set O(owner) and
    O(group) when the module runs as root for another user.
  - With O(state=present) an existing file gets O(mode), O(owner) and O(group) before the new content is moved
    into place, so the new content is never readable by anyone the options exclude.
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
  description: The file that was managed (the target of a symbolic link).
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

import os
import re
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_native, to_text

from ansible_collections.cloudflare_r2.credentials.plugins.module_utils._profile import (
    ENTRY_RE,
    is_blank,
    is_comment,
    key_blocks,
    normalize_section,
    parse_entry,
    read_text,
    secret_key_set,
    section_name,
    split_sections,
)

MASK = '********'
NESTED_INDENT = '  '


class ProfileError(Exception):
    pass


def _newline_of(line):
    return line[len(line.rstrip('\r\n')):]


# --------------------------------------------------------------- rendering

def render_scalar(value):
    """The text of a value as written (INI readers strip surrounding blanks, so it is written stripped)."""
    if isinstance(value, bool):
        return 'true' if value else 'false'
    return to_text(value).strip()


def render_line(indent, key, value, newline):
    text = render_scalar(value)
    return '%s%s = %s%s' % (indent, key, text, newline) if text != '' else '%s%s =%s' % (indent, key, newline)


def validate_values(values):
    def check_key(key, where):
        if not isinstance(key, str) or not key.strip() or key != key.strip():
            raise ProfileError('values: key %r%s must be a non-empty string without surrounding blanks' % (key, where))
        if re.search(r'[=:\r\n]', key) or key[0] in '#;[':
            raise ProfileError('values: key %r%s may not contain "=", ":" or a line break, nor start with "#", ";" '
                               'or "["' % (key, where))

    def check_value(key, value):
        if isinstance(value, (list, tuple)):
            raise ProfileError('values: the value of %s is a list; use a string, number, boolean, dict or null' % key)
        if value is not None and re.search(r'[\r\n]', render_scalar(value)):
            # never echo the value: it may be a secret
            raise ProfileError('values: the value of %s contains a line break' % key)

    seen = set()
    for key, value in values.items():
        check_key(key, '')
        if key.lower() in seen:
            raise ProfileError('values: key %s is given twice (keys are case-insensitive)' % key)
        seen.add(key.lower())
        if isinstance(value, dict):
            sub_seen = set()
            for sub_key, sub_value in value.items():
                check_key(sub_key, ' (in %s)' % key)
                if isinstance(sub_value, dict):
                    raise ProfileError('values: %s.%s: only one level of nesting is supported' % (key, sub_key))
                if sub_key.lower() in sub_seen:
                    raise ProfileError('values: key %s.%s is given twice' % (key, sub_key))
                sub_seen.add(sub_key.lower())
                check_value('%s.%s' % (key, sub_key), sub_value)
        else:
            check_value(key, value)


def validate_section(section):
    if not isinstance(section, str) or not section.strip():
        raise ProfileError('section: must be a non-empty string')
    if re.search(r'[\]\r\n]', section):
        raise ProfileError('section: may not contain "]" or a line break')


# ----------------------------------------------------------------- editing

def _nested_lines(block_lines, sub_values, newline, key, report):
    """Merge the managed sub-keys into a nested block's continuation lines."""
    out = list(block_lines)
    indent = None
    for line in out:
        if not is_blank(line) and not is_comment(line) and parse_entry(line.lstrip()):
            indent = line[:len(line) - len(line.lstrip())]
            break
    indent = indent or NESTED_INDENT
    for sub_key, sub_value in sub_values.items():
        positions = [i for i, line in enumerate(out)
                     if not is_comment(line) and parse_entry(line.lstrip())
                     and parse_entry(line.lstrip())[0].lower() == sub_key.lower()]
        name = '%s.%s' % (key, sub_key)
        if sub_value is None:
            for position in reversed(positions):
                del out[position]
            if positions:
                report['removed'].append(name)
            continue
        wanted = render_scalar(sub_value)
        if positions:
            first = positions[0]
            current = parse_entry(out[first].lstrip())
            if current[1] != wanted or current[0] != sub_key:
                line_indent = out[first][:len(out[first]) - len(out[first].lstrip())]
                out[first] = render_line(line_indent, sub_key, sub_value, _newline_of(out[first]) or newline)
                report['updated'].append(name)
            for position in reversed(positions[1:]):
                del out[position]
                if name not in report['updated']:
                    report['updated'].append(name)
        else:
            last_entry = max([i for i, line in enumerate(out) if not is_comment(line)] or [-1])
            out.insert(last_entry + 1, render_line(indent, sub_key, sub_value, newline))
            report['added'].append(name)
    return out


def edit_section(lines, start, end, values, newline, report):
    """Return the section's new lines (header included) with ``values`` merged in."""
    section = list(lines[start:end])
    for key, value in values.items():
        blocks = [b for b in key_blocks(section, 1, len(section)) if b['key'].lower() == key.lower()]
        if value is None:
            for block in reversed(blocks):
                del section[block['start']:block['end']]
            if blocks:
                report['removed'].append(key)
            continue
        if blocks:
            first = blocks[0]
            # later duplicates go (the aws CLI refuses duplicate keys)
            for block in reversed(blocks[1:]):
                del section[block['start']:block['end']]
            if len(blocks) > 1:
                report['updated'].append(key)
            line_newline = _newline_of(section[first['start']]) or newline
            if isinstance(value, dict):
                if first['value'] != '':
                    nested = _nested_lines([], value, newline, key, report)
                    new_block = [render_line('', key, '', line_newline)] + nested
                    report['updated'].append(key)
                else:
                    head = section[first['start']]
                    if first['key'] != key:
                        head = render_line('', key, '', line_newline)
                        report['updated'].append(key)
                    continuation = section[first['start'] + 1:first['end']]
                    new_block = [head] + _nested_lines(continuation, value, newline, key, report)
            else:
                if first['value'] == render_scalar(value) and first['end'] == first['start'] + 1 and first['key'] == key:
                    continue
                new_block = [render_line('', key, value, line_newline)]
                if key not in report['updated']:
                    report['updated'].append(key)
            section[first['start']:first['end']] = new_block
        else:
            report['added'].append(key)
            if isinstance(value, dict):
                new_block = [render_line('', key, '', newline)] + _nested_lines([], value, newline, key, report)
            else:
                new_block = [render_line('', key, value, newline)]
            existing = key_blocks(section, 1, len(section))
            at = existing[-1]['end'] if existing else 1
            section[at:at] = new_block
    return section


def new_section(section_title, values, newline, report):
    lines = ['[%s]%s' % (section_title, newline)]
    for key, value in values.items():
        if value is None:
            continue
        report['added'].append(key)
        if isinstance(value, dict):
            lines.append(render_line('', key, '', newline))
            lines.extend(_nested_lines([], value, newline, key, report))
        else:
            lines.append(render_line('', key, value, newline))
    return lines


def apply(text, section_title, values, state):
    """Return (new_text, before_section, after_section, report) for the whole file's text."""
    report = {'added': [], 'updated': [], 'removed': []}
    lines = text.splitlines(True)
    newline = '\r\n' if lines and lines[0].endswith('\r\n') else '\n'
    wanted = normalize_section(section_title)
    spans = [span for span in split_sections(lines) if span[0] == wanted]

    if state == 'absent':
        if not spans:
            return text, '', '', report
        before = ''.join(''.join(lines[span[1]:span[2]]) for span in spans)
        at_end = spans[-1][2] == len(lines)
        for span in reversed(spans):
            start, end = span[1], span[2]
            blocks = key_blocks(lines, start + 1, end)
            for block in blocks:
                report['removed'].append(block['key'])
            stop = blocks[-1]['end'] if blocks else start + 1
            # blank lines that separated it from what follows go too
            while stop < end and is_blank(lines[stop]):
                stop += 1
            del lines[start:stop]
        while at_end and lines and is_blank(lines[-1]):
            # the blank line that separated the removed last section
            lines.pop()
        if lines and not lines[-1].endswith(('\n', '\r')):
            lines[-1] += newline
        return ''.join(lines), before, '', report

    if len(spans) > 1:
        raise ProfileError('section [%s] appears %d times in the file; merge the copies by hand (the aws CLI and '
                           'rclone refuse or ignore duplicate sections)' % (wanted, len(spans)))
    if spans:
        start, end = spans[0][1], spans[0][2]
        before = ''.join(lines[start:end])
        section = edit_section(lines, start, end, values, newline, report)
        lines[start:end] = section
        return ''.join(lines), before, ''.join(section), report

    section = new_section(section_title, values, newline, report)
    if lines:
        if not lines[-1].endswith(('\n', '\r')):
            lines[-1] += newline
        if not is_blank(lines[-1]):
            lines.append(newline)
    lines.extend(section)
    return ''.join(lines), '', ''.join(section), report


# ----------------------------------------------------------------- masking

def mask_section(text, secret_keys):
    """The section text with the values of secret keys (at any depth) replaced by the mask."""
    out = []
    for line in text.splitlines(True):
        entry = None if (is_comment(line) or section_name(line) is not None) else parse_entry(line.lstrip())
        if entry and entry[0].lower() in secret_keys and entry[1] != '':
            match = ENTRY_RE.match(line.rstrip('\r\n'))
            line = '%s%s %s %s%s' % (match.group('indent'), match.group('key'), match.group('delim'), MASK,
                                     _newline_of(line))
        out.append(line)
    return ''.join(out)


def leaf_strings(values, secret_keys=None):
    """Text of the leaves of ``values`` (only those of secret keys if ``secret_keys`` is given).

    Mirrors how AnsibleModule collects no_log values: strings and numbers, not booleans or null.
    """
    leaves = []
    for key, value in values.items():
        if isinstance(value, dict):
            leaves.extend(leaf_strings(value, secret_keys))
        elif value is None or isinstance(value, bool) or not to_text(value):
            continue
        elif secret_keys is None or key.lower() in secret_keys:
            leaves.append(to_native(value))
    return leaves


# -------------------------------------------------------------------- main

def write_atomically(module, path, text, creating):
    directory = os.path.dirname(path) or '.'
    fd, tmp = tempfile.mkstemp(prefix='.r2_profile.', dir=directory)
    try:
        with os.fdopen(fd, 'wb') as handle:
            handle.write(to_bytes(text, errors='surrogate_or_strict'))
        old_umask = os.umask(0o077) if creating else None
        try:
            module.atomic_move(tmp, path, unsafe_writes=module.params['unsafe_writes'])
        finally:
            if old_umask is not None:
                os.umask(old_umask)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def main():
    module = AnsibleModule(
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

    path = os.path.realpath(params['path']) if os.path.islink(params['path']) else params['path']
    result = dict(changed=False, path=path, section=params['section'], created=False, added=[], updated=[],
                  removed=[])
    try:
        validate_section(params['section'])
        validate_values(values)
        if os.path.isdir(path):
            raise ProfileError('path: %s is a directory' % path)
        exists = os.path.exists(path)
        if not exists and params['state'] == 'present' and not os.path.isdir(os.path.dirname(path) or '.') \
                and not module.check_mode:
            raise ProfileError('path: the folder of %s does not exist; create it first' % path)
        old_text = read_text(path) if exists else ''
        new_text, before, after, report = apply(old_text, params['section'], values, params['state'])
    except ProfileError as exc:
        module.fail_json(msg=to_native(exc), **result)
    except (IOError, OSError, UnicodeError) as exc:
        module.fail_json(msg='cannot read %s: %s' % (path, to_native(exc)), **result)

    result.update(report)
    content_changed = new_text != old_text or (not exists and params['state'] == 'present')
    result['created'] = content_changed and not exists
    attr_diff = {'before': {'path': path}, 'after': {'path': path}}
    file_args = module.load_file_common_arguments(params, path=path)
    changed = content_changed
    try:
        if params['state'] == 'present' and exists:
            # attributes first, so that the new content never has looser permissions than asked for
            changed = module.set_fs_attributes_if_different(file_args, changed, diff=attr_diff)
        if content_changed and not module.check_mode:
            write_atomically(module, path, new_text, creating=not exists)
            if not exists:
                module.set_fs_attributes_if_different(file_args, True)
        if result['created']:
            # a new file: show the attributes it gets, not the steps to get there
            attr_diff = {'before': {}, 'after': {'path': path}}
            attr_diff['after'].update({k: v for k, v in (('mode', file_args['mode'] or '0600'),
                                                         ('owner', file_args['owner']),
                                                         ('group', file_args['group'])) if v is not None})
    except (IOError, OSError) as exc:
        module.fail_json(msg='cannot write %s: %s' % (path, to_native(exc)), **result)
    result['changed'] = changed

    if module._diff:
        header = '%s [%s]' % (path, normalize_section(params['section']))
        diffs = [{'before_header': header, 'after_header': header,
                  'before': mask_section(before, secret_keys), 'after': mask_section(after, secret_keys)}]
        if attr_diff['before'] != attr_diff['after'] and len(attr_diff['after']) > 1:
            diffs.append(attr_diff)
        result['diff'] = diffs
    module.exit_json(**result)


if __name__ == '__main__':
    main()
