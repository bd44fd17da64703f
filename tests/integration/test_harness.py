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


def test_dead_tokens_and_us_pass_the_contract(cf):
    """Through Prism: the observed statuses (REF §8) and the us jurisdiction in every answer kind
    the lifecycle tests meet, with the admin helpers they use; conftest fails on any violation."""
    acct = {'com.cloudflare.api.account.%s' % cf.account_id: '*'}
    policy = {'effect': 'allow', 'resources': acct,
              'permission_groups': [{'id': 'b4992e1108244f5d8bfbd5744320c2e1'}, {'id': '45db74139a62490b9b60eb7c4f34994b'}]}
    body = {'name': 'dead', 'policies': [policy]}
    base = cf.api_url + '/accounts/%s/tokens' % cf.account_id
    made = {}
    for how in ('disabled', 'expired', 'revoked (exposed)'):
        tok = cf.seed_token(owner='account', name=how, policies=[policy], issued_on='2024-01-01T00:00:00Z',
                            last_used_on='2024-02-01T00:00:00Z')
        changed = {'disabled': lambda t: cf.patch_token(t, status='disabled'), 'expired': cf.expire_token,
                   'revoked (exposed)': cf.revoke_token}[how](tok['id'])
        assert changed['status'] == how and changed['last_used_on'] == '2024-02-01T00:00:00Z'
        status, dummy, raw = _call(base + '/' + tok['id'], cf.bootstrap_token)
        assert status == 200 and json.loads(raw)['result']['status'] == how
        assert _call(base + '/verify', tok['value'])[0] == 401
        assert not cf.verify(tok['value'], owner='account')
        made[how] = tok
    status, dummy, raw = _call(base + '?include_expired=true&per_page=50', cf.bootstrap_token)
    assert status == 200
    listed = {t['id']: t['status'] for t in json.loads(raw)['result']}
    assert {listed[t['id']] for t in made.values()} == {'disabled', 'expired', 'revoked (exposed)'}
    revoked = base + '/' + made['revoked (exposed)']['id']
    status, dummy, raw = _call(revoked, cf.bootstrap_token, 'PUT', dict(body, status='active'))
    assert status == 400 and json.loads(raw)['errors'][0]['code'] == 1004
    assert _call(revoked + '/value', cf.bootstrap_token, 'PUT', {})[0] == 400
    status, dummy, raw = _call(base + '/' + made['expired']['id'] + '/value', cf.bootstrap_token, 'PUT', {})
    assert status == 200 and isinstance(json.loads(raw)['result'], str)
    # The schema's status enum lets an observed status through Prism; the emulator refuses to set it.
    status, dummy, raw = _call(base + '/' + made['disabled']['id'], cf.bootstrap_token, 'PUT',
                               dict(body, status='expired'))
    assert status == 400 and json.loads(raw)['errors'][0]['message'].startswith('status: ')
    buckets = cf.api_url + '/accounts/%s/r2/buckets' % cf.account_id
    req = urllib.request.Request(buckets, data=json.dumps({'name': 'us-bucket'}).encode(), method='POST', headers={
        'Authorization': 'Bearer ' + cf.bootstrap_token, 'Content-Type': 'application/json',
        'cf-r2-jurisdiction': 'us'})
    with urllib.request.urlopen(req, timeout=30) as resp:
        assert json.loads(resp.read())['result']['jurisdiction'] == 'us'
    req = urllib.request.Request(buckets, headers={'Authorization': 'Bearer ' + cf.bootstrap_token,
                                                   'cf-r2-jurisdiction': 'us'})
    with urllib.request.urlopen(req, timeout=30) as resp:
        assert [b['name'] for b in json.loads(resp.read())['result']['buckets']] == ['us-bucket']
    assert cf.buckets()['us'] == ['us-bucket'] and 'us' in cf.s3_endpoints
    status, dummy, raw = _call(cf.api_url + '/user/tokens/permission_groups?name=Workers%20R2%20Data%20Catalog%20Write',
                               cf.bootstrap_token)
    assert [g['id'] for g in json.loads(raw)['result']] == ['d229766a2f7f4d299f20eaa8c9b1fde9']
    assert cf.contract_violations() == []
