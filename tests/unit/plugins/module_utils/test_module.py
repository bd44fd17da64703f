# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""R2Module: no form of a secret option reaches the result or module.log (syslog/journal), issue 9 build 1.

Modules run in-process (tests/unit/utils/ansible_module.py); what syslog/journal would get is captured at
AnsibleModule._log_to_syslog, after AnsibleModule.log has scrubbed it with no_log_values, so a line checked here
is the line the host's log gets.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import secrets

import pytest
import requests

from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args

from ansible_collections.cloudflare_r2.credentials.plugins.module_utils import _api, _module
from ansible_collections.cloudflare_r2.credentials.plugins.modules import (
    r2_client_files,
    r2_credential_set,
    r2_temp_credentials,
    r2_token,
    r2_token_info,
)
from ansible_collections.cloudflare_r2.credentials.tests.unit.utils import secret_forms
from ansible_collections.cloudflare_r2.credentials.tests.unit.utils.ansible_module import (
    ModuleExit,
    patch_module_exits,
    run_module,
)
from ansible_collections.cloudflare_r2.credentials.tests.unit.utils.fake_cloudflare import ScriptedSession

ACCOUNT = '0123456789abcdef0123456789abcdef'
HOSTILE = secret_forms.hostile_cases()
MODULES = [
    pytest.param(r2_token, dict(name='leak-probe', permission='object_read_only'), id='r2_token'),
    pytest.param(r2_token_info, dict(owner='user'), id='r2_token_info'),
    pytest.param(r2_credential_set, dict(tokens=[dict(name='leak-probe', permission='object_read_only')],
                                         check_buckets=False), id='r2_credential_set'),
    pytest.param(r2_temp_credentials, dict(bucket='leak-bucket', check_bucket=False), id='r2_temp_credentials'),
]


@pytest.fixture
def syslog(monkeypatch):
    """The lines module.log hands to syslog (journal off), already scrubbed by AnsibleModule.log."""
    lines = []
    monkeypatch.setattr(basic, 'has_journal', False)
    monkeypatch.setattr(basic.AnsibleModule, '_log_to_syslog', lambda self, msg: lines.append(msg))
    patch_module_exits(monkeypatch)
    for name in ('CLOUDFLARE_API_TOKEN', 'CLOUDFLARE_ACCOUNT_ID', 'CLOUDFLARE_API_URL'):
        monkeypatch.delenv(name, raising=False)
    return lines


@pytest.fixture
def sessions(monkeypatch):
    """client_from_options builds the real client (check_api_token included) on a session that raises."""
    made = []

    def client_from_options(options, log=None):
        _api.check_api_token(options.get('api_token'))
        session = ScriptedSession(made_errors[0](options['api_token']), repeat_last=True)
        made.append(session)
        return _api.CloudflareClient(options['api_token'], api_url='https://api.example.test/client/v4',
                                     retries=2, log=log, sleep=lambda s: None, session=session)
    made_errors = [lambda token: [RuntimeError('unused')]]
    monkeypatch.setattr(_module, 'client_from_options', client_from_options)
    return made, made_errors


@pytest.mark.parametrize('module, args', MODULES)
@pytest.mark.parametrize('case', HOSTILE, ids=lambda c: c[0])
def test_a_hostile_api_token_fails_every_module_naming_the_option_before_any_request(syslog, sessions, module,
                                                                                     args, case):
    name, value, token = case
    made, dummy = sessions
    outcome = run_module(module, dict(args, api_token=value, account_id=ACCOUNT))
    its = {name: secret_forms.forms(value, token)}
    secret_forms.assert_no_leak(outcome.result, its, 'the result')
    secret_forms.assert_no_leak('\n'.join(syslog), its, 'module.log')
    assert outcome.failed
    msg = outcome.result['msg']
    assert msg.startswith('api_token'), msg
    assert 'HTTP' not in msg
    assert not made, 'a client was made: a request could have been sent'


@pytest.mark.parametrize('module, args', MODULES[:2])
def test_a_hostile_token_from_cloudflare_api_token_is_refused_naming_the_option(syslog, sessions, monkeypatch,
                                                                                module, args):
    token = secret_forms.new_token()
    value = token + '\r'   # export CLOUDFLARE_API_TOKEN=$(cat token.txt) of a file saved with CRLF
    monkeypatch.setenv('CLOUDFLARE_API_TOKEN', value)
    outcome = run_module(module, dict(args, account_id=ACCOUNT))
    its = {'env': secret_forms.forms(value, token)}
    secret_forms.assert_no_leak(outcome.result, its, 'the result')
    secret_forms.assert_no_leak('\n'.join(syslog), its, 'module.log')
    assert outcome.failed and 'api_token' in outcome.result['msg']


def token_bearing_errors(token):
    import urllib3
    bearer = 'Bearer %s' % token
    return [
        requests.exceptions.InvalidHeader(
            "Invalid leading whitespace, reserved character(s), or return character(s) in header value: %r"
            % (bearer + '\n')),
        requests.exceptions.ConnectionError(urllib3.exceptions.ProtocolError(
            'Connection aborted.', ConnectionResetError(104, 'reset after %s' % bearer))),
        requests.exceptions.ReadTimeout('Read timed out sending %s' % bearer),
    ]


@pytest.mark.parametrize('module, args', MODULES)
def test_transport_errors_that_quote_the_token_reach_neither_the_result_nor_module_log(syslog, sessions, module,
                                                                                       args):
    """A good token; every request raises an exception whose text holds the token (and its escaped forms)."""
    token = secret_forms.new_token()
    made, errors = sessions
    errors[0] = token_bearing_errors
    outcome = run_module(module, dict(args, api_token=token, account_id=ACCOUNT))
    its = {'token': secret_forms.forms(token, token)}
    secret_forms.assert_no_leak(outcome.result, its, 'the result')
    secret_forms.assert_no_leak('\n'.join(syslog), its, 'module.log')
    assert outcome.failed and made and made[0].calls
    # what the module itself sent to module.log, before AnsibleModule.log scrubbed it: type, method and path only
    retry_lines = [line for line in syslog if line.startswith('cloudflare:')]
    assert retry_lines, syslog
    for line in retry_lines:
        assert '********' not in line, 'the token reached module.log, masked only by no_log: %s' % line
        assert ' /' in line and ('InvalidHeader' in line or 'ProtocolError' in line or 'ReadTimeout' in line), line
        assert 'Bearer' not in line and 'api.example.test' not in line, line
    msg = outcome.result['msg']
    assert '********' not in msg, 'the token reached the message, masked only by no_log: %s' % msg
    assert 'Bearer' not in msg and 'api.example.test' not in msg, msg
    # the invocation line does not show the option
    invoked = [line for line in syslog if line.startswith('Invoked with')]
    assert invoked and all('api_token=NOT_LOGGING_PARAMETER' in line for line in invoked), invoked


@pytest.mark.parametrize('case', HOSTILE, ids=lambda c: c[0])
def test_escaped_forms_of_a_secret_option_are_masked_in_the_result_and_module_log(syslog, case):
    """Defence in depth: were a secret quoted by repr() or JSON (a newline shown as \\n), no_log still masks it."""
    name, value, token = case
    its = secret_forms.forms(value, token)
    with patch_module_args(dict(api_token=value, account_id=ACCOUNT)):
        r2 = _module.R2Module(argument_spec={})
    for form_name, form in sorted(its.items()):
        if form_name == 'slice':
            continue   # a part of the value is not the value: masking it is not no_log's job
        r2.module.log('probe %s end' % form)
        with pytest.raises(ModuleExit) as exit_info:
            r2.module.fail_json(msg='probe %s end' % form, detail={'quoted': form})
        secret_forms.assert_no_leak(exit_info.value.result, {name: its}, 'the result of a message with the %s form'
                                    % form_name)
    secret_forms.assert_no_leak('\n'.join(syslog), {name: its}, 'module.log')


def test_escaped_forms_of_every_secret_option_are_registered(syslog):
    """Not only api_token: r2_temp_credentials' parent_secret_access_key too."""
    secret = secret_forms.new_token('') + '"\n'
    with patch_module_args(dict(api_token=secret_forms.new_token(), account_id=ACCOUNT, bucket='b',
                                parent_secret_access_key=secret)):
        r2 = _module.R2Module(argument_spec=dict(bucket=dict(type='str'),
                                                 parent_secret_access_key=dict(type='str', no_log=True)))
    missing = [name for name, form in secret_forms.forms(secret).items() if form not in r2.module.no_log_values]
    assert not missing


@pytest.mark.parametrize('module, args', [
    pytest.param(r2_credential_set, lambda secret: dict(
        api_token=secret_forms.new_token(), account_id=ACCOUNT, check_buckets=False,
        tokens=[dict(name='leak-probe', permission='object_read_only', signing_key=secret)]), id='r2_credential_set'),
    pytest.param(r2_client_files, lambda secret: dict(
        user='root', home='/nonexistent-r2-probe',
        profiles=[dict(name='p', access_key_id='a' * 32, secret_access_key=secret)]), id='r2_client_files'),
])
def test_the_invocation_log_masks_a_secret_suboption_in_its_escaped_forms(syslog, module, args):
    """ansible-core logs the invocation from AnsibleModule.__init__, showing list options by repr(): a secret with a
    newline or a quote is there in its escaped form, which must be masked before that line is written."""
    secret = secrets.token_hex(32) + '"\n'
    outcome = run_module(module, args(secret))
    assert outcome.failed
    invoked = [line for line in syslog if line.startswith('Invoked with')]
    assert invoked, syslog
    forms = secret_forms.forms(secret)
    secret_forms.assert_no_leak('\n'.join(syslog), {'secret': dict((k, v) for k, v in forms.items() if k != 'slice')},
                                'the invocation log')
    secret_forms.assert_no_leak(outcome.result, {'secret': dict((k, v) for k, v in forms.items() if k != 'slice')},
                                'the result')
