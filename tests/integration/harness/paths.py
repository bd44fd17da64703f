"""Where things are: repo, venv, spec, tools, output."""

from __future__ import annotations

import os
import subprocess
import sys

HARNESS_DIR = os.path.dirname(os.path.abspath(__file__))
INTEGRATION_DIR = os.path.dirname(HARNESS_DIR)
REPO = os.path.dirname(os.path.dirname(INTEGRATION_DIR))
PLAYBOOK_DIR = os.path.join(INTEGRATION_DIR, 'playbooks')
EMULATOR_DIR = os.path.join(REPO, 'tests', 'emulator')
OUTPUT_DIR = os.path.join(REPO, 'tests', 'output', 'integration')
SPEC_NAME = 'r2-credentials.openapi.json'


def openapi_spec() -> str:
    """The Cloudflare OpenAPI extract used as the contract.

    ``R2_OPENAPI_SPEC`` overrides; the default is ``<repo>/../shared/cloudflare-openapi/``
    (CI lays shared/ beside the clone).
    """
    path = os.environ.get('R2_OPENAPI_SPEC') or os.path.join(
        os.path.dirname(REPO), 'shared', 'cloudflare-openapi', SPEC_NAME)
    path = os.path.abspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            'OpenAPI spec not found at %s: lay shared/ beside the repo or set R2_OPENAPI_SPEC' % path)
    return path


def prism_bin() -> str:
    path = os.environ.get('R2_PRISM') or os.path.join(REPO, 'tests', 'tools', 'node_modules', '.bin', 'prism')
    if not os.path.exists(path):
        raise FileNotFoundError('Prism not found at %s: run scripts/bootstrap.sh' % path)
    return path


def venv_bin() -> str:
    """The bin/ folder that holds ansible-playbook: the running interpreter's."""
    return os.path.dirname(os.path.abspath(sys.executable))


def venv_python() -> str:
    return os.path.join(venv_bin(), os.path.basename(sys.executable))


CLIENTS_VENV_DEFAULT = '/opt/cloudflare-r2-test-clients'


def clients_venv() -> str:
    """The S3 clients venv (aws CLI, boto3) that every unix user may run.

    Made by ``scripts/bootstrap.sh`` outside the clone (a clone under /root is not readable by
    the molecule scenarios' test users) from the system ``/usr/bin/python3``.
    ``R2_CLIENTS_VENV`` overrides, for bootstrap and tests alike.
    """
    return os.environ.get('R2_CLIENTS_VENV') or CLIENTS_VENV_DEFAULT


def clients_venv_bin() -> str:
    return os.path.join(clients_venv(), 'bin')


def clients_python() -> str:
    return os.path.join(clients_venv_bin(), 'python')


def output_dir(*parts: str) -> str:
    path = os.path.join(OUTPUT_DIR, *parts)
    os.makedirs(path, exist_ok=True)
    return path


def collections_path() -> str:
    """Folder containing ansible_collections/ with the collection under test.

    ``R2_COLLECTIONS_PATH`` if set (scripts/test.sh sets it, the build step points
    it at the installed tarball), else the result of ``scripts/stage.sh``.
    """
    path = os.environ.get('R2_COLLECTIONS_PATH')
    if path:
        return path
    out = subprocess.run(['bash', os.path.join(REPO, 'scripts', 'stage.sh')], check=True,
                         stdout=subprocess.PIPE, universal_newlines=True).stdout
    path = out.strip().splitlines()[-1]
    os.environ['R2_COLLECTIONS_PATH'] = path
    return path
