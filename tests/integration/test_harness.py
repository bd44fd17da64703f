"""Self-tests of the contract harness (emulator + Prism + recorder)."""

import json
import urllib.error
import urllib.request


def _call(url, token, method='GET', payload=None):
    data = None if payload is None else json.dumps(payload).encode()
    headers = {'Authorization': 'Bearer ' + token}
    if data is not None:
        headers['Content-Type'] = 'application/json'
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


def test_selftest_playbook(cf, run_playbook):
    result = run_playbook('harness_selftest.yml')
    assert result.rc == 0, result.output
    assert result.failed == 0
    assert cf.bootstrap_token not in result.output
    # the request went recorder -> Prism -> emulator, with no violation
    assert [(e['method'], e['path'], e['status']) for e in cf.exchanges()] == [
        ('GET', '/client/v4/user/tokens/verify', 200)]
    assert cf.stats()['total'] >= 1


def test_verify_helper(cf):
    assert cf.verify(cf.bootstrap_token)
    assert not cf.verify('not-a-token')


def test_recorder_catches_request_violation(cf):
    """A create-token POST without ``policies`` is refused by Prism (422), and recorded."""
    status, headers, body = _call(cf.api_url + '/user/tokens', cf.bootstrap_token, 'POST', {'name': 'no-policies'})
    assert status == 422
    assert headers.get('Content-Type', '').startswith('application/problem+json')
    violations = cf.contract_violations()
    assert len(violations) == 1
    v = violations[0]
    assert (v['method'], v['path'], v['status']) == ('POST', '/client/v4/user/tokens', 422)
    assert any('policies' in (x.get('message') or '') for x in v['prism_error']['validation'])
    # the request never reached the emulator
    assert not [r for r in cf.stats()['requests'] if r['method'] == 'POST']
    # nothing secret or body-like is recorded
    assert cf.bootstrap_token not in json.dumps(cf.exchanges())
    assert 'no-policies' not in json.dumps(cf.exchanges())
    assert b'policies' in body
    cf.clear_violations()
    assert cf.contract_violations() == []


def test_recorder_flags_paths_outside_base_path(cf):
    status = _call(cf.recorder.url + '/user/tokens/verify', cf.bootstrap_token)[0]
    assert status == 404
    assert 'outside the API base path' in cf.contract_violations()[0]['violations'][0]
    cf.clear_violations()


def test_direct_url_bypasses_prism(cf):
    status = _call(cf.direct_api_url + '/user/tokens/verify', cf.bootstrap_token)[0]
    assert status == 200
    assert cf.exchanges() == []


def test_recorder_catches_response_violation(cf):
    """An injected 502 is not in the spec (200/4XX only): Prism flags it with sl-violations.

    This is why fault-injection tests use ``cf.direct_api_url``.
    """
    cf.add_faults([{'route': 'GET /user/tokens/verify', 'action': '502', 'times': 1}])
    status = _call(cf.api_url + '/user/tokens/verify', cf.bootstrap_token)[0]
    assert status >= 500
    violations = cf.contract_violations()
    assert len(violations) == 1 and violations[0]['sl_violations']
    assert 'sl-violations' in violations[0]['violations'][0]
    cf.clear_violations()
