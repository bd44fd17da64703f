"""Make ``ansible_collections.cloudflare_r2.credentials`` importable for plain ``pytest tests/unit``.

scripts/test.sh puts the staged collections root on PYTHONPATH.  When pytest
is run by hand without it, stage the repo (scripts/stage.sh, a quick copy) and
put the stage first on sys.path, so that tests import the current work tree.
"""

import importlib.util
import os
import subprocess
import sys


def _ensure_collection_importable():
    try:
        if importlib.util.find_spec('ansible_collections.cloudflare_r2.credentials') is not None:
            return
    except ImportError:
        pass
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    root = os.environ.get('R2_COLLECTIONS_PATH')
    if not root:
        out = subprocess.run(['bash', os.path.join(repo, 'scripts', 'stage.sh')], check=True,
                             stdout=subprocess.PIPE, universal_newlines=True).stdout
        root = out.strip().splitlines()[-1]
    sys.path.insert(0, root)
    for name in [m for m in sys.modules if m == 'ansible_collections' or m.startswith('ansible_collections.')]:
        del sys.modules[name]


_ensure_collection_importable()
