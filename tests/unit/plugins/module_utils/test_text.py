# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""_text: the collection's one rule for control characters, used by every validator (issue 9)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest

from ansible_collections.cloudflare_r2.credentials.plugins.module_utils import _ini, _s3_probe, _text

# C0, DEL, C1 (NEL), an ANSI escape, bidi override, zero-width space, BOM, line and paragraph separators
CONTROLS = ['\x00', '\n', '\r', '\x0b', '\x1b[31m', '\x7f', '\x85', '\x9b', '\u202e', '\u200b', '\ufeff',
            '\u2028', '\u2029']


@pytest.mark.parametrize('char', CONTROLS, ids=[repr(c) for c in CONTROLS])
def test_every_kind_of_control_character_counts(char):
    for text in ('x' + char, char + 'x', 'a%sb' % char):
        assert _text.has_control(text)
        assert _text.has_control(text, allow_tab=True)


def test_a_tab_counts_unless_allowed():
    assert _text.has_control('a\tb')
    assert not _text.has_control('a\tb', allow_tab=True)


@pytest.mark.parametrize('text', ['', 'plain', 'with space', 'é-ü_ß.~/:@', '日本語', 'emoji \U0001f600'])
def test_printable_text_is_no_control(text):
    assert not _text.has_control(text)


@pytest.mark.parametrize('text', ['x\t', 'x\n', 'x\u2028', 'x\x85', 'x\u202e', 'x\x1b[31m'])
def test_the_ini_writer_and_the_s3_probe_use_the_same_rule(text):
    # _ini keeps its API and refuses a tab where it writes; the probe refuses what _text refuses
    assert _ini.has_control(text) is _text.has_control(text) is True
    creds = {'access_key_id': 'AKID', 'secret_access_key': 'secret' + text, 'endpoint_url': 'https://r2.example'}
    with pytest.raises(_s3_probe.ProbeError, match='the secret_access_key contains a control character'):
        _s3_probe.validate_credentials(creds)


def test_mask_escaped_adds_the_repr_and_json_forms_of_every_no_log_value():
    secret = 'Zq8' + 'x' * 20 + '"\\\n' + 'w' * 20
    values = set([secret, 'short'])
    _text.mask_escaped(values)
    assert repr(secret)[1:-1] in values and json.dumps(secret)[1:-1] in values and secret.strip() in values
    # a short value has no forms of its own (they would mask ordinary words)
    assert values == set([secret, 'short']) | _text.escaped_forms(secret)
