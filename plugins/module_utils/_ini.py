# -*- coding: utf-8 -*-
# Copyright: (c) 2026, cloudflare_r2.credentials contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# FOR INTERNAL COLLECTION USE ONLY
# The interfaces in this file are meant for use within the cloudflare_r2.credentials
# collection and may not remain stable to outside uses. Changes may be made in ANY
# release, even a bugfix release.

"""The one INI and KEY=VALUE format of the collection's client files (aws config and credentials, rclone.conf,
s3cmd, env files): read leniently, read strictly as botocore does, edit one section leaving every other byte as it
was, render whole files, mask secrets.

Used by the client-file layout (``_client_files``) and the host-side modules (``r2_profile``, ``r2_profile_info``,
``r2_client_files``, ``r2_s3_check``). Plain functions on text; no AnsibleModule and no file access here
(``_safe_io`` reads and writes).

The INI dialect is the one the aws CLI reads: ``[section]`` headers at the start of a line, ``key = value``
or ``key: value`` entries, full-line ``#`` and ``;`` comments, and indented continuation lines, which after
an empty ``key =`` form an aws nested block (``s3 =`` then ``  addressing_style = path``). Lines end at ``\n``,
``\r\n`` or ``\r`` (Python's universal newlines, which botocore's reader and configparser use), and at nothing
else: ``str.splitlines`` would also split at ``\x0b``, ``\x1c`` or U+2028, where the clients see one line.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import configparser
import re

from ansible.module_utils.common.text.converters import to_native, to_text

from ansible_collections.cloudflare_r2.credentials.plugins.module_utils import _text

BUILTIN_SECRET_KEYS = ('aws_secret_access_key', 'aws_session_token', 'secret_access_key', 'session_token',
                       'secret_key', 'access_token')

HEADER_RE = re.compile(r'^\[(?P<name>.+)\]')
# one line without its line end, matched whole (fullmatch)
ENTRY_RE = re.compile(r'(?P<indent>[ \t]*)(?P<key>[^=:\s#;\[][^=:]*?)[ \t]*(?P<delim>[=:])[ \t]*(?P<value>.*?)\s*')
ENV_RE = re.compile(r'(?:export[ \t]+)?(?P<key>[A-Za-z_][A-Za-z0-9_.]*)[ \t]*=[ \t]*(?P<value>.*?)\s*')


# Key names that look secret even when no rule names them (a DATABASE_PASSWORD next to our keys must never be
# shown).
SECRET_NAME_RE = re.compile(r'secret|token|passw|passphrase|(^|_)pass$|private_key$|apikey|^key$|(?<!access)_key$')
LINE_RE = re.compile(r'(\r\n|\r|\n)')


class IniError(ValueError):
    """A message for the user; never holds a value of the file (it may be a secret)."""


def secret_key_set(extra=()):
    """The lower-cased names of secret keys: the built-in ones and ``extra``."""
    return set(k.lower() for k in BUILTIN_SECRET_KEYS) | set(k.lower() for k in extra)


def secret_predicate(extra=()):
    """A function telling whether a key (any case) holds a secret: the built-in names, ``extra``, and any name
    that looks like one (``SECRET_NAME_RE``)."""
    names = secret_key_set(extra)
    return lambda key: key.lower() in names or SECRET_NAME_RE.search(key.lower()) is not None


def has_control(text, allow_tab=False):
    """Whether ``text`` holds a character no client-file name, key or value may hold: C0 and C1 controls (a tab
    included, unless ``allow_tab``), DEL, Unicode format characters (Cf: bidi overrides, zero-width) and line or
    paragraph separators (the collection's one rule, ``_text.has_control``).

    Everything the collection writes is checked without a tab: some clients read a tab (or U+2028) in a name or
    value differently than others. A tab is only ever allowed where a file is read (the indentation of a line).
    """
    return _text.has_control(text, allow_tab=allow_tab)


def check_written(text, what):
    """Refuse to write ``text`` (a section name, key, value or comment) holding a control character; ``what``
    names it in the message (never the text: a value may be a secret)."""
    if has_control(text):
        raise IniError('%s: must not contain a line break, a tab or another control character' % what)
    return text


def shown(name):
    """A name read from a file, fit for a message: as it is when short and printable, else a placeholder (the
    file is the host user's: it must not put escape sequences or a long value into the controller's output)."""
    return _text.shown('%s' % (name,), quote=False, limit=64)


def split_lines(text):
    """The lines of ``text``, each with its line end, split as universal newlines split (and at nothing else)."""
    parts = LINE_RE.split(text)
    lines = [parts[i] + parts[i + 1] for i in range(0, len(parts) - 1, 2)]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


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
    match = ENTRY_RE.fullmatch(line.rstrip('\r\n'))
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
    lines = split_lines(text)
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
    for line in split_lines(text):
        line = line.rstrip('\r\n')
        if is_blank(line) or is_comment(line):
            continue
        match = ENV_RE.fullmatch(line.strip())
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


# ---------------------------------------------------------------- editing

MASK = '********'
NESTED_INDENT = '  '

# The editor's errors are IniError; the old name stays for r2_profile.
ProfileError = IniError


def _newline_of(line):
    return line[len(line.rstrip('\r\n')):]


# --------------------------------------------------------------- rendering

def render_scalar(value):
    """The text of a value as written (INI readers strip surrounding blanks, so it is written stripped)."""
    if isinstance(value, bool):
        return 'true' if value else 'false'
    return to_text(value).strip()


def written_scalar(value, key):
    """``render_scalar`` of a value to write, refused when it holds a control character anywhere: also at its ends,
    which a strip would hide (a value is written as given, or not at all)."""
    check_written(to_text(value), 'the value of %s' % shown(key))
    return render_scalar(value)


def render_line(indent, key, value, newline):
    check_written(key, 'key %s' % shown(key))
    text = written_scalar(value, key)
    return '%s%s = %s%s' % (indent, key, text, newline) if text != '' else '%s%s =%s' % (indent, key, newline)


def validate_values(values):
    def check_key(key, where):
        if not isinstance(key, str) or not key.strip() or key != key.strip():
            raise ProfileError('values: key %s%s must be a non-empty string without surrounding blanks'
                               % (shown(key) if isinstance(key, str) else repr(key), where))
        if re.search(r'[=:]', key) or has_control(key) or key[0] in '#;[':
            raise ProfileError('values: key %s%s may not contain "=", ":", a line break, a tab or another control '
                               'character, nor start with "#", ";" or "["' % (shown(key), where))

    def check_value(key, value):
        if isinstance(value, (list, tuple)):
            raise ProfileError('values: the value of %s is a list; use a string, number, boolean, dict or null' % key)
        if value is not None and has_control(to_text(value)):
            # never echo the value: it may be a secret
            raise ProfileError('values: the value of %s contains a line break, a tab or another control character'
                               % key)

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
    if ']' in section or has_control(section):
        raise ProfileError('section: may not contain "]", a line break, a tab or another control character')


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
    lines = ['[%s]%s' % (check_written(section_title, 'section %s' % shown(section_title)), newline)]
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
    lines = split_lines(text)
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
    """The section text with the values of secret keys (at any depth) replaced by the mask.

    ``secret_keys`` is a predicate on key names, or names added to ``secret_predicate``'s (so a key that only looks
    secret, such as ``sse_customer_key`` or ``gpg_passphrase``, is masked too). The continuation lines of a secret
    key are masked whole: a client may read them as part of its value.
    """
    is_secret = secret_keys if callable(secret_keys) else secret_predicate(secret_keys)
    out = []
    in_secret = False
    for line in split_lines(text):
        newline = _newline_of(line)
        if is_indented(line) and not is_blank(line) and in_secret:
            out.append('%s%s%s' % (line[:len(line) - len(line.lstrip())], MASK, newline))
            continue
        entry = None if (is_comment(line) or section_name(line) is not None) else parse_entry(line.lstrip())
        if not is_indented(line) and not is_blank(line):
            in_secret = bool(entry) and is_secret(entry[0])
        if entry and is_secret(entry[0]) and entry[1] != '':
            match = ENTRY_RE.fullmatch(line.rstrip('\r\n'))
            line = '%s%s %s %s%s' % (match.group('indent'), match.group('key'), match.group('delim'), MASK, newline)
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


# ------------------------------------------------------------ whole files

def render_ini(sections, newline='\n'):
    """The text of a whole INI file: ``sections`` is a list of (name, [(key, value)]); a value of None is left
    out. Used for the files the collection writes whole (s3cmd)."""
    lines = []
    for name, entries in sections:
        if lines:
            lines.append(newline)
        lines.append('[%s]%s' % (check_written(name, 'section %s' % shown(name)), newline))
        lines.extend(render_line('', key, value, newline) for key, value in entries if value is not None)
    return ''.join(lines)


def render_env(entries):
    """The text of a ``KEY=VALUE`` file (systemd ``EnvironmentFile=``, ``set -a; . FILE``): ``entries`` is a list of
    (key, value); None is left out. Values are written bare: the values the collection writes (keys, URLs, RFC 3339
    times) hold no blank, quote or shell character, which ``_client_files`` checks before writing."""
    return ''.join('%s=%s\n' % (check_written(key, 'key %s' % shown(key)), written_scalar(value, key))
                   for key, value in entries if value is not None)


def comment_lines(lines):
    return ''.join('# %s\n' % check_written(line, 'a comment line') if line else '#\n' for line in lines)


# ------------------------------------------------------- botocore's reading

def _parse_nested(value):
    """An aws nested block (``s3 =`` then indented ``key = value`` lines) as botocore reads it."""
    parsed = {}
    for line in value.splitlines():
        line = line.strip()
        if line:
            name, sep, item = line.partition('=')
            if not sep:
                raise ValueError
            parsed[name.strip()] = item.strip()
    return parsed


def parse_strict(text, source):
    """{section: {key: value}} of an aws INI text read as botocore's ``raw_config_parse`` reads it (configparser,
    nested blocks as dicts). Raises IniError, naming ``source`` and line numbers, never a line's text."""
    parser = configparser.RawConfigParser()
    # botocore opens the file in text mode: universal newlines, so a lone \r ends a line too
    text = text.replace('\r\n', '\n').replace('\r', '\n')
    try:
        parser.read_string(text, source=source)
    except configparser.MissingSectionHeaderError as exc:
        # configparser's messages quote the line, which may hold a secret: build our own
        raise IniError('cannot parse %s: line %d comes before any [section] header' % (source, exc.lineno))
    except configparser.ParsingError as exc:
        lines = ', '.join(str(error[0]) for error in exc.errors)
        raise IniError('cannot parse %s: line(s) %s are neither a [section], a key = value line nor a comment'
                       % (source, lines))
    except configparser.DuplicateSectionError as exc:
        raise IniError('cannot parse %s: section [%s] appears twice (line %s); the aws CLI refuses such files'
                       % (source, shown(exc.section), exc.lineno))
    except configparser.DuplicateOptionError as exc:
        raise IniError('cannot parse %s: key %s appears twice in [%s] (line %s)'
                       % (source, shown(exc.option), shown(exc.section), exc.lineno))
    except configparser.Error as exc:
        raise IniError('cannot parse %s: %s' % (source, type(exc).__name__))
    sections = {}
    for section in parser.sections():
        values = {}
        for option in parser.options(section):
            value = parser.get(section, option)
            if value.startswith('\n'):
                try:
                    value = _parse_nested(value)
                except ValueError:
                    raise IniError('cannot parse %s: the nested block %s in [%s] has a line without "="'
                                   % (source, option, section))
            values[option] = value
        sections[section] = values
    return sections


def decode(data, source):
    """Text of a file's bytes; IniError (naming ``source``) unless it is UTF-8."""
    try:
        return to_text(data, errors='strict', encoding='utf-8')
    except UnicodeError:
        raise IniError('cannot read %s: not UTF-8 text' % to_native(source))
