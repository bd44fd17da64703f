# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Hostile token values and the forms in which a secret can reach output, for the leak tests.

``forms(value, token)``: the value as given, stripped, escaped by repr() and by JSON (ASCII and UTF-8), and a
20-character slice of the random part of the token it was made from (catches partial leaks: ``Bearer cfut_...``,
a value cut at a control character, an escaping not listed here). ``leaks(text, secret_forms)`` names what was
found without showing it: a failing assertion must not print the secret.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import secrets
import string

ALPHABET = string.ascii_letters + string.digits
SLICE = slice(10, 30)   # inside the random part; the decorations below stay out of it


def new_token(prefix='cfut_'):
    """A long random token value (45 characters): a short one would garble no_log masking."""
    return prefix + ''.join(secrets.choice(ALPHABET) for dummy in range(40))


DECORATIONS = (
    ('newline', lambda t: t + '\n'),
    ('crlf', lambda t: t + '\r\n'),
    ('cr', lambda t: t + '\r'),
    ('leading_spaces', lambda t: '  ' + t),
    ('trailing_space', lambda t: t + ' '),
    ('tab', lambda t: t + '\t'),
    ('nul', lambda t: t[:36] + '\x00' + t[36:]),
    ('ansi', lambda t: '\x1b[31m' + t + '\x1b[0m'),
    ('line_separator', lambda t: t + '\u2028'),
    ('rlo', lambda t: t[:36] + '\u202e' + t[36:]),
    ('zero_width', lambda t: t[:36] + '\u200b' + t[36:]),
    ('non_ascii', lambda t: t[:36] + '\u00e9\u0434' + t[36:]),
    ('quote_backslash', lambda t: t[:34] + '"' + t[34:40] + '\\' + t[40:]),
    ('inner_space', lambda t: t[:36] + ' ' + t[36:]),
    ('bearer_prefix', lambda t: 'Bearer ' + t),
)


def hostile_cases():
    """[(case id, value, token)]: a fresh token per case, so a leak names its case."""
    cases = []
    for name, make in DECORATIONS:
        token = new_token()
        cases.append((name, make(token), token))
    return cases


def forms(value, token=None):
    found = {'raw': value, 'stripped': value.strip(), 'repr': repr(value)[1:-1], 'json': json.dumps(value)[1:-1],
             'json_utf8': json.dumps(value, ensure_ascii=False)[1:-1]}
    if token:
        found['slice'] = token[SLICE]
    return dict((k, v) for k, v in found.items() if len(v) >= 8)


def leaks(text, secret_forms):
    """['secret:form', ...] found in ``text``; ``secret_forms`` is {secret name: forms(...)}."""
    if not isinstance(text, str):
        text = json.dumps(text, ensure_ascii=False, default=str)
    return sorted('%s:%s' % (name, form_name) for name, its in secret_forms.items()
                  for form_name, form in its.items() if form in text)


def masked(text, secret_forms):
    """``text`` with every form replaced by its name, for a failure message."""
    if not isinstance(text, str):
        text = json.dumps(text, ensure_ascii=False, default=str)
    for name, its in secret_forms.items():
        for form_name, form in sorted(its.items(), key=lambda kv: -len(kv[1])):
            text = text.replace(form, '<%s:%s>' % (name, form_name))
    return text


def assert_no_leak(text, secret_forms, where='output'):
    """Fail naming what leaked, with the secret masked (a plain assert would print it in pytest's report)."""
    import pytest
    found = leaks(text, secret_forms)
    if found:
        pytest.fail('%s: %s leaked: %s' % (where, ', '.join(found), masked(text, secret_forms)[:2000]), pytrace=False)
