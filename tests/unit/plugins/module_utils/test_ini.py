# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""_ini: the one INI and KEY=VALUE format."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.cloudflare_r2.credentials.plugins.module_utils import _ini


@pytest.mark.parametrize('line, entry', [
    ('region = auto\n', ('region', 'auto')),
    ('region=auto', ('region', 'auto')),
    ('region: auto \r\n', ('region', 'auto')),
    ('s3 =\n', ('s3', '')),
    ('endpoint_url = https://x.example/a=b\n', ('endpoint_url', 'https://x.example/a=b')),
    ('# region = auto\n', None),
    ('; region = auto\n', None),
    ('[section]\n', None),
    ('   \n', None),
    ('no delimiter\n', None),
])
def test_parse_entry(line, entry):
    assert _ini.parse_entry(line) == entry


def test_section_names_are_normalized_and_indented_headers_are_not_headers():
    assert _ini.section_name('[profile   backup]\n') == 'profile backup'
    assert _ini.section_name('  [profile backup]\n') is None
    lines = 'pre = 1\n[a]\nx = 1\n[b]\n'.splitlines(True)
    assert _ini.split_sections(lines) == [(None, 0, 1), ('a', 1, 3), ('b', 3, 4)]


def test_secret_key_set_is_lower_case_builtins_and_extras():
    keys = _ini.secret_key_set(['SSE_Customer_Key'])
    assert {'aws_secret_access_key', 'secret_key', 'access_token', 'sse_customer_key'} <= keys
    assert 'aws_access_key_id' not in keys


def test_read_ini_sections_nested_blocks_and_comments():
    text = (
        'ignored = before any header\n'
        '# comment\n'
        '[profile  backup]\r\n'
        'region = auto\r\n'
        's3 =\r\n'
        '    addressing_style = path\r\n'
        '    # tuned\r\n'
        '    not an entry\r\n'
        '    max_concurrent_requests = 20\r\n'
        'output = json\r\n'
        '\r\n'
        '[backup]\n'
        'aws_access_key_id = one\n'
        'aws_access_key_id = two\n'
        'empty =\n'
        'multi = first\n'
        '  continued secret_key = x\n'
        '[backup]\n'
        'later = yes\n')
    assert _ini.read_ini(text) == {
        'profile backup': {'region': 'auto', 'output': 'json',
                           's3': {'addressing_style': 'path', 'max_concurrent_requests': '20'}},
        'backup': {'aws_access_key_id': 'two', 'empty': '', 'multi': 'first', 'later': 'yes'},
    }


def test_read_ini_of_an_empty_text():
    assert _ini.read_ini('') == {}
    assert _ini.read_ini('[only]\n') == {'only': {}}


def test_read_env():
    text = (
        '# Ansible managed\n'
        'AWS_ACCESS_KEY_ID=abc\n'
        'export AWS_REGION = auto\n'
        'QUOTED="a b"\n'
        "SINGLE='c'\n"
        'HALF="d\n'
        '; comment=1\n'
        'not a pair\n'
        'AWS_ACCESS_KEY_ID=def\n'
        'EMPTY=\n')
    assert _ini.read_env(text) == {'AWS_ACCESS_KEY_ID': 'def', 'AWS_REGION': 'auto', 'QUOTED': 'a b',
                                   'SINGLE': 'c', 'HALF': '"d', 'EMPTY': ''}


def test_split_secrets_keeps_names_only():
    secret_names = _ini.secret_key_set()
    entries = {'aws_access_key_id': 'id', 'aws_secret_access_key': 'S3CRET', 'aws_session_token': '',
               's3': {'addressing_style': 'path', 'session_token': 'T0KEN'}, 'access_token': {'a': 'b'}}
    assert _ini.split_secrets(entries, lambda key: key.lower() in secret_names) == {
        'values': {'aws_access_key_id': 'id', 's3': {'addressing_style': 'path'}},
        'secrets': ['access_token', 'aws_secret_access_key', 's3.session_token'],
    }


# -- issue 9: what is written holds no control character, a tab included -------------

# the reader splits lines at \n, \r\n and \r; other clients also at \x85, U+2028 or read a tab differently
WRITTEN_CONTROLS = ['\n', '\r', '\t', '\x00', '\x1b[31m', '\u202e', '\u2028', '\x85']
SECRET = 'S3cr3tValue'


def ini_error(call, *args):
    with pytest.raises(_ini.IniError) as error:
        call(*args)
    return str(error.value)


@pytest.mark.parametrize('char', WRITTEN_CONTROLS, ids=[repr(c) for c in WRITTEN_CONTROLS])
def test_the_writer_refuses_control_characters_in_names_keys_and_values(char):
    report = {'added': [], 'updated': [], 'removed': []}
    value_message = ini_error(_ini.render_line, '', 'aws_secret_access_key', SECRET + char, '\n')
    assert value_message == ('the value of aws_secret_access_key: must not contain a line break, a tab or another '
                             'control character')
    assert 'must not contain a line break, a tab' in ini_error(_ini.render_line, '', 'key' + char, 'v', '\n')
    assert 'section <' in ini_error(_ini.new_section, 'profile' + char, {'a': 'b'}, '\n', report)
    assert 'section <' in ini_error(_ini.render_ini, [('default' + char, [('a', 'b')])])
    assert 'the value of AWS_SECRET_ACCESS_KEY' in ini_error(
        _ini.render_env, [('AWS_SECRET_ACCESS_KEY', SECRET + char)])
    assert 'a comment line' in ini_error(_ini.comment_lines, ['note' + char])
    assert 'key <' in ini_error(_ini.apply, '', 'p', {'k' + char: 'v'}, 'present')
    assert 'the value of k' in ini_error(_ini.apply, '[p]\nk = old\n', 'p', {'k': SECRET + char}, 'present')
    for message in (value_message, ini_error(_ini.render_env, [('AWS_SECRET_ACCESS_KEY', SECRET + char)])):
        assert SECRET not in message and char not in message


@pytest.mark.parametrize('char', WRITTEN_CONTROLS, ids=[repr(c) for c in WRITTEN_CONTROLS])
def test_values_and_sections_are_checked_before_writing_without_echo(char):
    with pytest.raises(_ini.ProfileError) as error:
        _ini.validate_values({'aws_secret_access_key': SECRET + char})
    assert str(error.value) == ('values: the value of aws_secret_access_key contains a line break, a tab or another '
                                'control character')
    with pytest.raises(_ini.ProfileError) as error:
        _ini.validate_values({'key' + char: 'v'})
    assert 'values: key <' in str(error.value) and char not in str(error.value)
    with pytest.raises(_ini.ProfileError, match='section: may not contain "]", a line break, a tab'):
        _ini.validate_section('profile' + char)


def test_what_the_writer_accepts_it_writes_and_reads_back():
    values = {'aws_access_key_id': 'AKID', 'region': 'auto', 's3': {'addressing_style': 'path'}}
    text = _ini.apply('', 'profile r2 backup', values, 'present')[0]
    assert _ini.read_ini(text) == {'profile r2 backup': values}
    assert _ini.render_env([('A', 'b'), ('C', None)]) == 'A=b\n'


def test_a_tab_read_from_a_file_is_still_indentation():
    assert _ini.read_ini('[p]\ns3 =\n\taddressing_style = path\n') == {'p': {'s3': {'addressing_style': 'path'}}}
    assert _ini.shown('a\tb') == '<3 characters not shown>'
