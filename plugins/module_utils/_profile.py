# -*- coding: utf-8 -*-
# Copyright: (c) 2026, cloudflare_r2.credentials contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# FOR INTERNAL COLLECTION USE ONLY
# The interfaces in this file are meant for use within the cloudflare_r2.credentials
# collection and may not remain stable to outside uses. Changes may be made in ANY
# release, even a bugfix release.

"""Reading INI-style and KEY=VALUE client files (aws config and credentials, rclone.conf, s3cmd, env files).

Shared by ``r2_profile`` (which edits one section in place, line by line) and ``r2_profile_info`` (which
reports what a host holds without returning a secret). Plain functions on text; no AnsibleModule here.

The INI dialect is the one the aws CLI reads: ``[section]`` headers at the start of a line, ``key = value``
or ``key: value`` entries, full-line ``#`` and ``;`` comments, and indented continuation lines, which after
an empty ``key =`` form an aws nested block (``s3 =`` then ``  addressing_style = path``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible.module_utils.common.text.converters import to_bytes, to_text

BUILTIN_SECRET_KEYS = ('aws_secret_access_key', 'aws_session_token', 'secret_access_key', 'session_token',
                       'secret_key', 'access_token')

HEADER_RE = re.compile(r'^\[(?P<name>.+)\]')
ENTRY_RE = re.compile(r'^(?P<indent>[ \t]*)(?P<key>[^=:\s#;\[][^=:]*?)[ \t]*(?P<delim>[=:])[ \t]*(?P<value>.*?)\s*$')
ENV_RE = re.compile(r'^(?:export[ \t]+)?(?P<key>[A-Za-z_][A-Za-z0-9_.]*)[ \t]*=[ \t]*(?P<value>.*?)\s*$')


def secret_key_set(extra=()):
    """The lower-cased names of secret keys: the built-in ones and ``extra``."""
    return set(k.lower() for k in BUILTIN_SECRET_KEYS) | set(k.lower() for k in extra)


def read_text(path):
    with open(to_bytes(path, errors='surrogate_or_strict'), 'rb') as handle:
        return to_text(handle.read(), errors='surrogate_or_strict')


# ------------------------------------------------------------------ lines

def is_blank(line):
    return not line.strip()


def is_comment(line):
    return line.lstrip()[:1] in ('#', ';')


def is_indented(line):
    return line[:1] in (' ', '\t')


def normalize_section(name):
    return ' '.join(name.split())


def section_name(line):
    """Section name of a header line (not indented), else None."""
    if is_indented(line):
        return None
    match = HEADER_RE.match(line.strip())
    return normalize_section(match.group('name')) if match else None


def parse_entry(line):
    """(key, value) of a ``key = value`` line, else None."""
    if is_blank(line) or is_comment(line):
        return None
    match = ENTRY_RE.match(line.rstrip('\r\n'))
    if not match:
        return None
    return match.group('key').strip(), match.group('value')


def split_sections(lines):
    """[(name or None, start, end)] covering every line: the preamble, then one span per header."""
    spans = []
    start, name = 0, None
    for index, line in enumerate(lines):
        header = section_name(line)
        if header is not None:
            spans.append((name, start, index))
            start, name = index, header
    spans.append((name, start, len(lines)))
    return spans


def key_blocks(lines, start, end):
    """Key blocks of a body: [{key, value, start, end}], ``end`` after the last continuation line.

    A continuation is an indented, non-blank line after a key line (comments included).
    """
    blocks = []
    current = None
    for index in range(start, end):
        line = lines[index]
        if current is not None and is_indented(line) and not is_blank(line):
            current['end'] = index + 1
            continue
        current = None
        if is_indented(line):
            continue
        entry = parse_entry(line)
        if entry:
            current = {'key': entry[0], 'value': entry[1], 'start': index, 'end': index + 1}
            blocks.append(current)
    return blocks


# ---------------------------------------------------------------- reading

def block_value(lines, block):
    """The value of a key block: the value of its key line, or a dict for an aws nested block.

    An empty ``key =`` followed by indented ``sub = value`` lines is a nested block (a later sub-key of the
    same name wins; comments and lines of another shape are skipped). Continuation lines after a non-empty
    value are left out: no client these files are for reads them, and they could hold anything.
    """
    if block['value'] != '' or block['end'] == block['start'] + 1:
        return block['value']
    entries = [parse_entry(line.strip()) for line in lines[block['start'] + 1:block['end']]]
    return dict(entry for entry in entries if entry)


def read_ini(text):
    """{section: {key: value}} of an INI text, values as ``block_value`` returns them.

    Section names are normalized (runs of blanks collapsed); keys keep their spelling. A section or key that
    appears more than once is merged, the later one winning, as lenient INI readers do. Lines before the
    first header belong to no section and are left out.
    """
    lines = text.splitlines(True)
    sections = {}
    for name, start, end in split_sections(lines):
        if name is None:
            continue
        entries = sections.setdefault(name, {})
        for block in key_blocks(lines, start + 1, end):
            entries[block['key']] = block_value(lines, block)
    return sections


def _unquote(value):
    if len(value) >= 2 and value[0] == value[-1] and value[0] in ('"', "'"):
        return value[1:-1]
    return value


def read_env(text):
    """{key: value} of ``KEY=VALUE`` lines (an optional ``export``, one pair of surrounding quotes dropped).

    Blank lines, ``#`` and ``;`` comments and lines of any other shape are skipped; a later key wins, as in a
    shell or a systemd ``EnvironmentFile=``.
    """
    entries = {}
    for line in text.splitlines():
        if is_blank(line) or is_comment(line):
            continue
        match = ENV_RE.match(line.strip())
        if match:
            entries[match.group('key')] = _unquote(match.group('value'))
    return entries


def split_secrets(entries, is_secret):
    """{'values': ..., 'secrets': [...]} of ``entries``: the values of keys that are not secret, and the sorted
    names of the secret keys that hold a non-empty value (a secret sub-key of a nested block as ``key.sub``).

    No secret value is in the result.
    """
    values, secrets = {}, []
    for key, value in entries.items():
        if is_secret(key):
            if value:
                secrets.append(key)
        elif isinstance(value, dict):
            nested = split_secrets(value, is_secret)
            values[key] = nested['values']
            secrets.extend('%s.%s' % (key, sub_key) for sub_key in nested['secrets'])
        else:
            values[key] = value
    return {'values': values, 'secrets': sorted(secrets)}
