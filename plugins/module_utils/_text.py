# -*- coding: utf-8 -*-
# Copyright: (c) 2026, cloudflare_r2.credentials contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# FOR INTERNAL COLLECTION USE ONLY
# The interfaces in this file are meant for use within the cloudflare_r2.credentials
# collection and may not remain stable to outside uses. Changes may be made in ANY
# release, even a bugfix release.

"""The collection's one rule for what text may hold: control characters, and secrets in their escaped forms.

Plain functions on strings, imported by the controller side (``_api``, ``_r2``, ``_provision``) and the host
side (``_ini``) alike; nothing here imports anything but the standard library.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re
import unicodedata

# C0 and C1 controls and DEL are Cc; bidi overrides and zero-width characters are Cf; U+2028 and U+2029 are
# Zl and Zp. Each either ends a line for some reader or changes what a terminal shows.
CONTROL_CATEGORIES = frozenset(('Cc', 'Cf', 'Zl', 'Zp'))


def has_control(text, allow_tab=False):
    """Whether ``text`` holds a control character (see CONTROL_CATEGORIES); a tab only counts without allow_tab."""
    for char in text:
        if char == '\t' and allow_tab:
            continue
        if unicodedata.category(char) in CONTROL_CATEGORIES:
            return True
    return False


def printable(text):
    """``text`` with every control character written as its escape (``\\n``, ``\\x1b``, ``\\u202e``): for a message
    that must name something that holds one (a host name, or an argument quoted by ansible-core's validation)."""
    if not isinstance(text, str) or not has_control(text):
        return text
    return ''.join(repr(c)[1:-1] if unicodedata.category(c) in CONTROL_CATEGORIES else c for c in text)


def shown(value, quote=True, limit=200):
    """A value fit for a message: its repr (its text without ``quote``), or only its length when it holds a control
    character or is longer than ``limit``.

    A value in a message reaches terminals and logs: an escape sequence, a bidi override or a line break in it would
    change what they show, and a file's content (read on a host) must not flood the controller's output.
    """
    if isinstance(value, str):
        if has_control(value) or len(value) > limit:
            return '<%d characters not shown>' % len(value)
        return repr(value) if quote else value
    if value is None or isinstance(value, (bool, int, float)):
        return repr(value)
    return '<a %s>' % type(value).__name__


def mask_escaped(no_log_values):
    """Add the escaped forms of every value of an AnsibleModule's ``no_log_values`` to it (see escaped_forms)."""
    for value in list(no_log_values):
        no_log_values.update(escaped_forms(value))


def escaped_forms(value):
    """Every form in which a secret can reach output: as is, stripped, and escaped by repr() and by JSON.

    ``no_log`` masking matches exact strings, so a value that holds a newline or a quote must also be
    registered in the forms an exception message (repr) or a JSON dump shows it in.
    """
    if not isinstance(value, str) or not value:
        return set()
    forms = set((value, value.strip()))
    forms.add(repr(value)[1:-1])
    forms.add(json.dumps(value)[1:-1])
    forms.add(json.dumps(value, ensure_ascii=False)[1:-1])
    return set(f for f in forms if len(f) >= 8)


# A run of characters that could be a piece of a token (the alphabet of _api.API_TOKEN_RE but the dot, which ends
# a cut-short quote), long enough that it is not an ordinary word.
_PIECE_RE = re.compile(r'[A-Za-z0-9_~+/=-]{12,}')


def redact(value, forms, mask='<redacted>'):
    """``value`` (a string, or lists and dicts of them) with every one of ``forms`` replaced by ``mask``, longest
    first, and every run of 12 or more token characters that is a piece of one of them (an error message quoting a
    header cut short): for text that a server or a proxy may have echoed a secret into."""
    if isinstance(value, str):
        for form in sorted(forms, key=len, reverse=True):
            if form in value:
                value = value.replace(form, mask)
        return _PIECE_RE.sub(lambda m: mask if any(m.group(0) in f for f in forms) else m.group(0), value)
    if isinstance(value, list):
        return [redact(item, forms, mask) for item in value]
    if isinstance(value, dict):
        return dict((key, redact(item, forms, mask)) for key, item in value.items())
    return value
