"""Contract harness for the integration tests.

Starts the Cloudflare API emulator (tests/emulator/cfemu), Stoplight Prism in
proxy mode with the official OpenAPI extract (``--errors``), and a recording
reverse proxy in front of Prism that the Ansible modules use as ``api_url``.
Every exchange is checked against the contract; see recorder.py.

Used by tests/integration/conftest.py (fixtures ``cf`` and ``run_playbook``)
and on its own: ``python -m harness.run_playbook PLAYBOOK`` (from
tests/integration, or with it on PYTHONPATH).

``harness.molecule`` runs the molecule scenarios of extensions/molecule/ (one at a
time per machine, with a timeout and a log); their ``run_scenario.py`` use it.
"""

from .playbook import PlaybookResult, run_playbook
from .recorder import RecordingProxy, format_violation
from .stack import AdminError, CloudflareStack

__all__ = ['AdminError', 'CloudflareStack', 'PlaybookResult', 'RecordingProxy', 'format_violation', 'run_playbook']
