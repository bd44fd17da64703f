"""The AWX credential type (extensions/awx/) in one real ansible-playbook run of two playbooks:

- A job whose only connection settings are the variables the credential type injects (rendered from the file as
  AWX renders them) creates, reads, looks up and deletes a token in the emulator.
- install_credential_type.yml hands the file to awx.awx.credential_type as it is, its injector templates left for
  AWX to render. AWX is not here: a stand-in module with awx.awx.credential_type's argument spec records what the
  play gives it (tests/unit/extensions/test_awx_credential_type.py holds AWX's own rules for the type).
"""

from __future__ import annotations

import json
import os

import jinja2.sandbox
import yaml

from harness import paths
from test_r2_token import assert_no_secrets

AWX_DIR = os.path.join(paths.REPO, 'extensions', 'awx')


def credential_type():
    with open(os.path.join(AWX_DIR, 'credential_type.yml')) as handle:
        return yaml.safe_load(handle)


def injected_env(inputs):
    """The env injectors rendered over the credential's inputs, as AWX does at job launch."""
    sandbox = jinja2.sandbox.ImmutableSandboxedEnvironment()
    return {name: sandbox.from_string(template).render(**inputs)
            for name, template in credential_type()['injectors']['env'].items()}


STAND_IN = '''#!/usr/bin/python
# Stand-in for awx.awx.credential_type (same argument spec): records the parameters it was given.
import json
import os

from ansible.module_utils.basic import AnsibleModule


def main():
    module = AnsibleModule(argument_spec=dict(
        name=dict(required=True),
        description=dict(),
        kind=dict(choices=['ssh', 'vault', 'net', 'scm', 'cloud', 'insights']),
        inputs=dict(type='dict'),
        injectors=dict(type='dict'),
        state=dict(choices=['present', 'absent'], default='present'),
    ))
    with open(os.environ['R2_AWX_STAND_IN_RECORD'], 'w') as handle:
        json.dump(module.params, handle)
    module.exit_json(changed=True)


main()
'''


def test_type_is_installed_as_written_and_its_environment_runs_a_job(cf, run_playbook, collections_path, tmp_path):
    """One ansible-playbook run: install_credential_type.yml (against the stand-in), then the job."""
    modules = tmp_path / 'awx' / 'ansible_collections' / 'awx' / 'awx' / 'plugins' / 'modules'
    modules.mkdir(parents=True)
    (modules / 'credential_type.py').write_text(STAND_IN)
    record = tmp_path / 'record.json'

    injected = injected_env({'api_token': cf.bootstrap_token, 'account_id': cf.account_id, 'api_url': cf.api_url})
    # The harness's own CLOUDFLARE_* (and any Ansible-side source) are removed: what the job gets is only what
    # the credential type sets, under the names it sets them.
    env = {name: None for name in os.environ if name.startswith('ANSIBLE_CLOUDFLARE_R2_')}
    env.update({'CLOUDFLARE_API_TOKEN': None, 'CLOUDFLARE_ACCOUNT_ID': None, 'CLOUDFLARE_API_URL': None})
    env.update(injected)
    env['R2_AWX_STAND_IN_RECORD'] = str(record)
    result = run_playbook('awx_credential_env.yml', env=env, timeout=180,
                          collections_path=collections_path + os.pathsep + str(tmp_path / 'awx'),
                          args=[os.path.join(AWX_DIR, 'install_credential_type.yml')])
    assert result.ok, result.describe()[-3000:]
    assert set(result.recap) == {'localhost'} and result.recap['localhost']['failed'] == 0
    assert_no_secrets(result.output, [cf.bootstrap_token])

    # install_credential_type.yml found its tasks and credential_type.yml beside itself, and gave them as written:
    # the templates reach AWX unrendered, for AWX to render at each launch
    given = json.loads(record.read_text())
    expected = credential_type()
    assert {key: given[key] for key in expected} == expected
    assert given['state'] == 'present'
    assert given['injectors']['env']['CLOUDFLARE_API_TOKEN'] == '{{ api_token }}'
