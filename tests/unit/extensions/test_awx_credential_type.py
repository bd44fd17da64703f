# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""extensions/awx/credential_type.yml: a credential type AWX accepts, whose injectors set what the collection reads.

AWX does not run here. Its rules are applied as AWX applies them: the schema and checks of its
CredentialTypeInputField and CredentialTypeInjectorField (awx/main/fields.py) when the type is saved, and
CredentialType.inject_credential (awx/main/models/credential.py) at job launch, which renders each injector with a
Jinja2 sandbox over the credential's non-empty inputs (an empty or missing field is undefined and renders as "").
The injected environment then goes through the collection's own argument spec (the fallbacks AnsibleModule applies)
and its own validators. tests/integration/test_awx.py runs real playbooks with that environment.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import random
import re
import string

import jinja2
import jinja2.meta
import jinja2.sandbox
import pytest
import yaml

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.common.parameters import env_fallback

from ansible_collections.cloudflare_r2.credentials.plugins.lookup import r2_credentials
from ansible_collections.cloudflare_r2.credentials.plugins.module_utils import _api, _module, _r2

COLLECTION = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))
CREDENTIAL_TYPE = os.path.join(COLLECTION, 'extensions', 'awx', 'credential_type.yml')

# What the injectors must set: the environment fallback of each connection option of the modules.
OPTIONS = ('api_token', 'account_id', 'api_url')

# AWX's schema of a custom credential type (CredentialTypeInputField, CredentialTypeInjectorField).
TOP_KEYS = {'name', 'description', 'kind', 'inputs', 'injectors'}
FIELD_KEYS = {'id', 'label', 'type', 'format', 'choices', 'help_text', 'multiline', 'secret', 'ask_at_runtime',
              'default'}
STRING_ONLY_KEYS = {'choices', 'multiline', 'format', 'secret'}
NAME_RE = re.compile(r'[a-zA-Z_]+[a-zA-Z0-9_]*')
MASK = '**********'

RANDOM = random.SystemRandom()


def random_text(length, alphabet=string.ascii_letters + string.digits):
    return ''.join(RANDOM.choice(alphabet) for dummy in range(length))


def sample_inputs(**overrides):
    inputs = {'api_token': random_text(40), 'account_id': random_text(32, '0123456789abcdef'),
              'api_url': 'https://gateway.example.test/client/v4'}
    inputs.update(overrides)
    return dict((k, v) for k, v in inputs.items() if v is not None)


@pytest.fixture(scope='module')
def credential_type():
    with open(CREDENTIAL_TYPE) as handle:
        return yaml.safe_load(handle)


def fields_of(credential_type):
    return credential_type['inputs']['fields']


def awx_inject(credential_type, inputs):
    """(env, safe_env, extra_vars) as CredentialType.inject_credential builds them for a credential's inputs: env
    for ansible-playbook, safe_env (secret fields masked) stored with the job."""
    secret = set(f['id'] for f in fields_of(credential_type) if f.get('secret'))
    namespace, safe = {}, {}
    for name, value in inputs.items():
        if isinstance(value, bool):
            namespace[name] = safe[name] = value
            continue
        if name in secret:
            safe[name] = MASK
        elif value:
            safe[name] = value
        if value:
            namespace[name] = value
    for field in fields_of(credential_type):
        if field.get('type', 'string') == 'boolean' and field['id'] not in inputs:
            namespace[field['id']] = safe[field['id']] = False
    sandbox = jinja2.sandbox.ImmutableSandboxedEnvironment()
    injectors = credential_type['injectors']
    env = dict((k, sandbox.from_string(t).render(**namespace)) for k, t in injectors.get('env', {}).items())
    safe_env = dict((k, sandbox.from_string(t).render(**safe)) for k, t in injectors.get('env', {}).items())
    extra_vars = dict((k, sandbox.from_string(t).render(**namespace)) for k, t in injectors.get('extra_vars', {}).items())
    return env, safe_env, extra_vars


def template_names(template):
    """The variables a Jinja2 template reads (what AWX's save-time check renders with StrictUndefined)."""
    environment = jinja2.sandbox.ImmutableSandboxedEnvironment()
    return jinja2.meta.find_undeclared_variables(environment.parse(template))


def module_params(env, monkeypatch, **given):
    """The connection options a module ends up with when only ``env`` is set: the collection's argument spec through
    ansible-core's validator, which applies the (env_fallback, [NAME]) fallbacks as AnsibleModule does."""
    for name in list(os.environ):
        if name.startswith(('CLOUDFLARE_', 'ANSIBLE_CLOUDFLARE_R2_')):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    result = ArgumentSpecValidator(_module.connection_argspec()).validate(given)
    assert not result.error_messages
    return result


def test_awx_accepts_the_type(credential_type):
    assert set(credential_type) <= TOP_KEYS and {'name', 'kind', 'inputs', 'injectors'} <= set(credential_type)
    assert credential_type['kind'] == 'cloud'  # custom types may only be cloud or net
    assert set(credential_type['inputs']) <= {'fields', 'required'}
    ids = []
    for field in fields_of(credential_type):
        assert set(field) <= FIELD_KEYS and {'id', 'label'} <= set(field), field
        assert NAME_RE.fullmatch(field['id']) and field['id'] != 'tower', field
        kind = field.get('type', 'string')
        assert kind in ('string', 'boolean'), field
        assert kind == 'string' or not STRING_ONLY_KEYS & set(field), field
        assert field.get('format') in (None, 'ssh_private_key', 'url'), field
        if 'default' in field:
            assert isinstance(field['default'], {'string': str, 'boolean': bool}[kind]), field
        ids.append(field['id'])
    assert len(ids) == len(set(ids)), 'field ids must be unique'
    assert set(credential_type['inputs']['required']) <= set(ids)
    assert set(credential_type['injectors']) <= {'file', 'env', 'extra_vars'}
    for name, template in credential_type['injectors']['env'].items():
        # AWX refuses ANSIBLE_* (they would configure Ansible) and non-ASCII values
        assert NAME_RE.fullmatch(name) and not name.startswith('ANSIBLE_'), name
        assert isinstance(template, str) and template.isascii(), name


def test_fields_are_the_connection_options(credential_type):
    fields = dict((f['id'], f) for f in fields_of(credential_type))
    assert sorted(fields) == sorted(OPTIONS)
    assert fields['api_token'].get('secret') is True
    assert not fields['account_id'].get('secret') and not fields['api_url'].get('secret')
    # the account id and the token are needed for every call; the URL has a default
    assert sorted(credential_type['inputs']['required']) == ['account_id', 'api_token']


def test_injectors_reference_only_defined_fields(credential_type):
    defined = set(f['id'] for f in fields_of(credential_type))
    for kind, templates in credential_type['injectors'].items():
        for key, template in templates.items():
            assert template_names(template) <= defined, (kind, key)
    # the check can fail: a typo in a field name is seen
    assert template_names('{{ api_tokn }}') - defined == {'api_tokn'}


def test_injected_env_is_what_the_modules_read(credential_type, monkeypatch):
    spec = _module.connection_argspec()
    inputs = sample_inputs()
    env, dummy, extra_vars = awx_inject(credential_type, inputs)
    # every variable the type sets is the environment fallback of one connection option, holding that input
    fallbacks = {}
    for option in OPTIONS:
        strategy, names = spec[option]['fallback']
        assert strategy is env_fallback and len(names) == 1
        fallbacks[names[0]] = option
    assert sorted(env) == sorted(fallbacks)
    for name, option in fallbacks.items():
        assert env[name] == inputs[option], name
    # Nothing as extra vars: they would beat each host's own provision_* variables, and the hosts of one run may
    # name different accounts.
    assert extra_vars == {}

    result = module_params(env, monkeypatch)
    params = result.validated_parameters
    assert dict((o, params[o]) for o in OPTIONS) == dict((o, inputs[o]) for o in OPTIONS)
    # the token from the environment is a no_log value of the module (masked in its output)
    assert inputs['api_token'] in result._no_log_values  # pylint: disable=protected-access
    # and the collection's own checks accept what AWX injected
    client = _module.client_from_options(params)
    assert client.api_url == inputs['api_url']
    assert _r2.validate_account_id(params['account_id']) == inputs['account_id']


def test_options_given_in_the_play_win_over_the_credential(credential_type, monkeypatch):
    env = awx_inject(credential_type, sample_inputs())[0]
    play = {'api_token': random_text(40), 'account_id': random_text(32, '0123456789abcdef'),
            'api_url': 'https://other.example.test/client/v4'}
    params = module_params(env, monkeypatch, **play).validated_parameters
    assert dict((o, params[o]) for o in OPTIONS) == play


@pytest.mark.parametrize('api_url', [None, ''])
def test_no_api_url_means_cloudflare(credential_type, monkeypatch, api_url):
    """An API URL left empty in AWX is "" in the template (AWX leaves it out of the namespace): the injector gives
    Cloudflare's own URL, the default of the modules, not an empty variable."""
    env = awx_inject(credential_type, sample_inputs(api_url=api_url))[0]
    assert env['CLOUDFLARE_API_URL'] == _api.DEFAULT_API_URL == _module.connection_argspec()['api_url']['default']
    params = module_params(env, monkeypatch).validated_parameters
    assert _module.client_from_options(params).api_url == _api.DEFAULT_API_URL


def test_job_record_masks_the_token(credential_type):
    inputs = sample_inputs()
    safe_env = awx_inject(credential_type, inputs)[1]
    assert safe_env['CLOUDFLARE_API_TOKEN'] == MASK
    assert inputs['api_token'] not in repr(safe_env)
    assert safe_env['CLOUDFLARE_ACCOUNT_ID'] == inputs['account_id']


def test_token_pasted_with_whitespace_is_refused_by_name(credential_type, monkeypatch):
    """AWX injects a field as typed: a token pasted with a trailing newline or space fails with a message that
    names where it came from and never shows it."""
    token = random_text(40)
    for pasted in (token + '\n', ' ' + token):
        env = awx_inject(credential_type, sample_inputs(api_token=pasted))[0]
        params = module_params(env, monkeypatch).validated_parameters
        with pytest.raises(_api.CloudflareError) as caught:
            _module.client_from_options(params)
        message = str(caught.value)
        assert 'api_token (from CLOUDFLARE_API_TOKEN)' in message and 'whitespace' in message
        assert token not in message


def test_lookup_reads_the_same_account_and_url(credential_type):
    """r2_credentials authenticates with the token values it is given; its account and API URL fall back, last, to
    the variables the credential sets."""
    env = credential_type['injectors']['env']
    assert r2_credentials.LATE_ENV == {'account_id': 'CLOUDFLARE_ACCOUNT_ID', 'api_url': 'CLOUDFLARE_API_URL'}
    assert set(r2_credentials.LATE_ENV.values()) <= set(env)
