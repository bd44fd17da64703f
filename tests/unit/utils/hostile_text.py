# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The control characters every validator of the collection is tried with (issue 9): a trailing newline (what
``re.match`` with ``$`` let through), NUL, an ANSI escape, a bidi override, a line separator, NEL (C1) and a tab."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

HOSTILE = ['\n', '\x00', '\x1b[31m', '\u202e', '\u2028', '\x85', '\t']
HOSTILE_IDS = ['newline', 'nul', 'ansi', 'bidi', 'u2028', 'nel', 'tab']
