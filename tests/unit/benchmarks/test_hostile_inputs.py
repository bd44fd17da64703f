# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The hostile-input campaign (benchmarks/hostile_inputs.py, issue 9) runs clean: every bad input to the modules,
the lookup and the provision role's validation gets one clear error naming the field, with 0 API writes and no
echoed control character or secret. A few seconds; the counts it prints are the ones the README gives."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import subprocess
import sys

SCRIPT = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'benchmarks', 'hostile_inputs.py')


def test_every_hostile_input_gets_a_clear_error_and_no_write():
    done = subprocess.run([sys.executable, SCRIPT], capture_output=True, text=True, timeout=300, check=False,
                          env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    totals = [tuple(int(n) for n in m.groups()) for m in re.finditer(r'^total\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)$',
                                                                     done.stdout, re.M)]
    assert len(totals) == 2, done.stdout[-2000:]
    for tried, clean, valid, problems in totals:
        assert problems == 0 and clean + valid == tried and clean >= 100
