"""What the benchmark scripts share: the environment of their ansible-playbook runs and how they write a summary.

Not a test and not part of the collection (benchmarks/ is left out of the built tarball).
"""

from __future__ import annotations

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'tests', 'integration'))

from harness import paths  # noqa: E402  pylint: disable=wrong-import-position

# what a user's shell may set that would change how the benchmark's plays run or print
UNSET = ('ANSIBLE_STDOUT_CALLBACK', 'ANSIBLE_CONFIG', 'ANSIBLE_INVENTORY', 'ANSIBLE_STRATEGY')


def playbook_env(stack, root, extra=None):
    """The environment of one ansible-playbook run against ``stack``: this venv first on PATH, the staged
    collection, the emulator's bootstrap token, no colour or retry files, and ANSIBLE_HOME and the local temp
    folder under ``root``; ``extra`` is added last."""
    env = dict(os.environ)
    for key in UNSET:
        env.pop(key, None)
    env.update({
        'PATH': paths.venv_bin() + os.pathsep + env.get('PATH', ''),
        'ANSIBLE_COLLECTIONS_PATH': paths.collections_path(),
        'CLOUDFLARE_API_TOKEN': stack.bootstrap_token,
        'ANSIBLE_NOCOLOR': '1',
        'ANSIBLE_RETRY_FILES_ENABLED': 'False',
        'ANSIBLE_LOCAL_TEMP': os.path.join(root, 'tmp'),
        'ANSIBLE_HOME': os.path.join(root, 'ansible_home'),
    })
    env.update(extra or {})
    return env


def rounded(row, keys):
    """``row`` with the numbers under ``keys`` (those it has and that are not None) rounded to 2 places."""
    return dict(row, **dict((key, round(row[key], 2)) for key in keys if row.get(key) is not None))


def write_summary(path, summary):
    with open(path, 'w', encoding='utf-8') as handle:
        json.dump(summary, handle, indent=1, sort_keys=True)
    print('wrote ' + path)
