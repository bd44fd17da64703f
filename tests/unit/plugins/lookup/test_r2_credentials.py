# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The r2_credentials lookup: no form of a term reaches its error or its -vvv lines (issue 9, build 1).

The lookup runs on the controller, where nothing masks no_log values: its messages and the client's log lines
(Display.vvv) are all that stands between a token and the terminal. The lookup is instantiated directly, its
options given as the plugin loader would resolve them, and its client talks to a scripted session.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest
import requests

from ansible.errors import AnsibleLookupError

from ansible_collections.cloudflare_r2.credentials.plugins.lookup import r2_credentials
from ansible_collections.cloudflare_r2.credentials.plugins.module_utils import _api
from ansible_collections.cloudflare_r2.credentials.tests.unit.utils import secret_forms
from ansible_collections.cloudflare_r2.credentials.tests.unit.utils.fake_cloudflare import ScriptedSession, envelope

ACCOUNT = '0123456789abcdef0123456789abcdef'
OPTIONS = dict(account_id=ACCOUNT, api_url='https://api.example.test/client/v4', validate_certs=True, timeout=5,
               retries=2, rate_limit=1200, rate_window=300.0, deadline=900.0, jurisdiction='default')


@pytest.fixture
def lookup(monkeypatch):
    """(run(terms) -> results, display lines, sessions made)"""
    lines, sessions, script = [], [], [[envelope({'id': 'a' * 32, 'status': 'active'})]]
    monkeypatch.setattr(r2_credentials.display, 'vvv', lambda msg, host=None: lines.append(msg))

    def client(value, **kwargs):
        session = ScriptedSession(script[0], repeat_last=True)
        sessions.append(session)
        return _api.CloudflareClient(value, session=session, sleep=lambda s: None, **kwargs)
    monkeypatch.setattr(r2_credentials, 'CloudflareClient', client)
    plugin = r2_credentials.LookupModule()
    monkeypatch.setattr(plugin, 'set_options', lambda **kwargs: None)
    monkeypatch.setattr(plugin, 'get_option', OPTIONS.get)
    monkeypatch.setattr(plugin, '_from_default', lambda name: False)
    for name in ('CLOUDFLARE_ACCOUNT_ID', 'CLOUDFLARE_API_URL'):
        monkeypatch.delenv(name, raising=False)
    return (lambda terms: plugin.run(terms, variables={})), lines, sessions, script


@pytest.mark.parametrize('case', secret_forms.hostile_cases(), ids=lambda c: c[0])
@pytest.mark.parametrize('position', [0, 1])
def test_a_hostile_term_fails_naming_its_position_and_never_its_value(lookup, case, position):
    run, lines, sessions, dummy = lookup
    name, value, token = case
    good = secret_forms.new_token()
    terms = [good, value] if position else [value]
    with pytest.raises(AnsibleLookupError) as err:
        run(terms)
    its = {name: secret_forms.forms(value, token), 'good': secret_forms.forms(good, good)}
    text = str(err.value)
    secret_forms.assert_no_leak(text, its, 'the error')
    secret_forms.assert_no_leak('\n'.join(lines), its, 'the -vvv lines')
    assert ('term %d' % position) in text, text
    # no request with the hostile value: the good term's verify only
    assert len(sessions) == position


@pytest.mark.parametrize('case', [('empty', ''), ('none', None), ('number', 42)], ids=lambda c: c[0])
def test_a_missing_term_is_named_by_position_in_words_that_fit_a_lookup(lookup, case):
    run, dummy, dummy2, dummy3 = lookup
    with pytest.raises(AnsibleLookupError) as err:
        run([case[1]])
    text = str(err.value)
    assert 'term 0' in text
    # a term is not an option and CLOUDFLARE_API_TOKEN is not read by the lookup
    assert 'term 0 option' not in text and 'CLOUDFLARE_API_TOKEN' not in text, text


def test_transport_errors_that_quote_the_token_reach_neither_the_error_nor_the_vvv_lines(lookup):
    import urllib3
    run, lines, sessions, script = lookup
    token = secret_forms.new_token()
    bearer = 'Bearer %s' % token
    script[0] = [
        requests.exceptions.InvalidHeader('Invalid return character or leading space in header: %r' % (bearer + '\n')),
        requests.exceptions.ConnectionError(urllib3.exceptions.ProtocolError(
            'Connection aborted.', ConnectionResetError(104, 'reset after %s' % bearer))),
        requests.exceptions.ReadTimeout('Read timed out sending %s' % bearer),
    ]
    with pytest.raises(AnsibleLookupError) as err:
        run([token])
    its = {'token': secret_forms.forms(token, token)}
    text = str(err.value)
    secret_forms.assert_no_leak(text, its, 'the error')
    secret_forms.assert_no_leak('\n'.join(lines), its, 'the -vvv lines')
    assert 'term 0' in text and 'GET /user/tokens/verify' in text, text
    assert len(lines) == 2, lines   # one per retry
    assert 'Bearer' not in text + ''.join(lines) and 'api.example.test' not in text + ''.join(lines)


@pytest.mark.parametrize('status', [400, 403, 404, 500])
def test_an_api_error_that_quotes_the_token_is_not_shown_by_the_lookup(lookup, status):
    """Nothing masks the lookup's message: a Cloudflare or proxy error text that quotes the Authorization header
    (an error envelope echoing the request) must not reach the terminal."""
    run, dummy, dummy2, script = lookup
    token = secret_forms.new_token()
    echo = 'Invalid request headers: Authorization: Bearer %s' % token
    script[0] = [envelope(None, status, errors=[{'code': 6003, 'message': echo}])]
    with pytest.raises(AnsibleLookupError) as err:
        run([token])
    its = {'token': secret_forms.forms(token, token)}
    secret_forms.assert_no_leak(str(err.value), its, 'the error')


def test_the_pacing_options_reach_the_client_and_a_bad_one_fails_before_any_request(lookup, monkeypatch):
    """rate_limit, rate_window and deadline (issue 11): the lookup's client paces and waits as the options say; a
    bad value fails naming the option, before any request."""
    run, dummy, sessions, dummy2 = lookup
    made = []
    real = r2_credentials.CloudflareClient
    monkeypatch.setattr(r2_credentials, 'CloudflareClient', lambda value, **kwargs: made.append(kwargs) or real(
        value, **kwargs))
    for name, value in (('rate_limit', 60), ('rate_window', 6.0), ('deadline', 30.0)):
        monkeypatch.setitem(OPTIONS, name, value)  # what the fixture's get_option answers
    run([secret_forms.new_token()])
    assert [(k['rate_limit'], k['rate_window'], k['deadline']) for k in made] == [(60, 6.0, 30.0)]
    monkeypatch.setitem(OPTIONS, 'rate_window', -1.0)
    with pytest.raises(AnsibleLookupError) as err:
        run([secret_forms.new_token()])
    assert 'rate_window must be a positive number of seconds' in str(err.value) and len(made) == 1
