# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small in-memory stand-in for the Cloudflare token API, at the HTTP session level.

Unit tests only: the integration tests run the real modules against the
emulator (tests/emulator) through Prism. This fake answers what
CloudflareClient sends through ``session.request`` and records every call.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import hashlib
import json
import re
import secrets
from urllib.parse import urlparse

GROUPS = {
    'Workers R2 Storage Write': 'bf7481a1826f439697cb59a20b22293e',
    'Workers R2 Storage Read': 'b4992e1108244f5d8bfbd5744320c2e1',
    'Workers R2 Storage Bucket Item Write': '2efd5506f9c8494dacb1fa10a3e7d5b6',
    'Workers R2 Storage Bucket Item Read': '6a018a9f2fc74eb6b293b0c548f38b39',
    'Workers R2 Data Catalog Write': 'd229766a2f7f4d299f20eaa8c9b1fde9',
    'Workers R2 Data Catalog Read': '45db74139a62490b9b60eb7c4f34994b',
}
WRITES = ('POST', 'PUT', 'DELETE', 'PATCH')


class ScriptedSession:
    """A ``requests.Session`` stand-in that serves ``outcomes`` in turn (a response to return, or an exception to
    raise) and records every call as (method, url, params, json, timeout). With ``repeat_last`` the last outcome
    answers every call after it; without, running out is an error of the test."""

    def __init__(self, outcomes, repeat_last=False):
        self.outcomes = list(outcomes)
        self.repeat_last = repeat_last
        self.calls = []
        self.headers = {}
        self.verify = True
        self.trust_env = True

    def request(self, method, url, params=None, json=None, timeout=None, headers=None):
        self.calls.append((method, url, dict(params or {}), json, timeout))
        if self.repeat_last and len(self.outcomes) == 1:
            outcome = self.outcomes[0]
        else:
            outcome = self.outcomes.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


class FakeResponse:
    def __init__(self, status, body=None, headers=None, raw=None):
        self.status_code = status
        self._body = body
        self._raw = raw
        self.headers = dict((k.lower(), v) for k, v in (headers or {}).items())

    def json(self):
        if self._raw is not None:
            return json.loads(self._raw)
        return self._body


def envelope(result, status=200, result_info=None, errors=None, headers=None):
    body = {'success': not errors, 'errors': errors or [], 'messages': [], 'result': result}
    if result_info is not None:
        body['result_info'] = result_info
    return FakeResponse(status, body, headers)


class FakeSession:
    """Routes requests to FakeCloudflare; ``script`` entries (callables or responses) are served first."""

    def __init__(self, cloudflare):
        self.cloudflare = cloudflare
        self.headers = {}
        self.verify = True
        self.trust_env = True

    def request(self, method, url, params=None, json=None, timeout=None, headers=None):
        return self.cloudflare.handle(method, url, params or {}, json, dict(self.headers, **(headers or {})))


def modules_use(monkeypatch, cloudflare):
    """Make the collection's modules talk to ``cloudflare`` (a FakeCloudflare): every client a module builds with an
    API token gets the fake's session; without a token the real client_from_options refuses as it would. The
    environment's Cloudflare variables are cleared, and the module's exits are patched for run_module."""
    from ansible_collections.cloudflare_r2.credentials.plugins.module_utils import _api, _module
    from ansible_collections.cloudflare_r2.credentials.tests.unit.utils.ansible_module import patch_module_exits
    real = _module.client_from_options

    def client_from_options(options, log=None):
        if not options.get('api_token'):
            return real(options, log)
        return _api.CloudflareClient(options['api_token'], api_url=options['api_url'], session=cloudflare.session(),
                                     sleep=lambda s: None)
    monkeypatch.setattr(_module, 'client_from_options', client_from_options)
    patch_module_exits(monkeypatch)
    monkeypatch.delenv('CLOUDFLARE_API_TOKEN', raising=False)
    monkeypatch.delenv('CLOUDFLARE_ACCOUNT_ID', raising=False)
    return cloudflare


class FakeCloudflare:
    def __init__(self, account_id):
        self.account_id = account_id
        self.tokens = {}  # id -> token dict (with 'owner' and '_value')
        self.calls = []   # (method, path, params, body)
        self.script = []  # (method, path_regex, response-or-exception) served before normal handling
        self.seq = 0
        self.buckets = {'default': set(), 'eu': set(), 'fedramp': set(), 'us': set()}
        self.bucket_list_denied = False
        self.temp_credentials = []  # request bodies of minted temporary credentials

    # -- test helpers --
    def session(self):
        return FakeSession(self)

    @property
    def writes(self):
        return [c for c in self.calls if c[0] in WRITES]

    def add_token(self, name, owner='account', policies=None, **extra):
        self.seq += 1
        token_id = '%032x' % (0xABC000 + self.seq)
        value = 'cfat_' + secrets.token_urlsafe(40)[:40]
        token = {'id': token_id, 'name': name, 'status': 'active', 'issued_on': '2026-01-01T00:00:00Z',
                 'modified_on': '2026-01-01T00:00:00Z', 'last_used_on': None,
                 'policies': policies or [], 'owner': owner, '_value': value}
        token.update(extra)
        self.tokens[token_id] = token
        return token

    @staticmethod
    def now():
        return datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')

    def add_bucket(self, name, jurisdiction='default'):
        self.buckets[jurisdiction].add(name)

    def bearer(self, headers):
        value = headers.get('Authorization', '')[len('Bearer '):]
        return next((t for t in self.tokens.values() if t['_value'] == value), None)

    def public(self, token):
        return dict((k, v) for k, v in token.items() if not k.startswith('_') and k != 'owner')

    # -- HTTP --
    def handle(self, method, url, params, body, headers):
        path = urlparse(url).path
        path = re.sub(r'^/client/v4', '', path)
        self.calls.append((method, path, dict(params), body))
        self._headers = headers
        for index, (m, regex, outcome) in enumerate(self.script):
            if m == method and re.search(regex, path):
                del self.script[index]
                if isinstance(outcome, BaseException):
                    raise outcome
                if callable(outcome):
                    return outcome(self, method, path, params, body)
                return outcome
        return self.route(method, path, params, body)

    def route(self, method, path, params, body):
        headers = getattr(self, '_headers', {})
        if re.match(r'^/accounts/[0-9a-f]{32}/r2/buckets$', path) and method == 'GET':
            if self.bucket_list_denied:
                return envelope(None, 403, errors=[{'code': 10000, 'message': 'Authentication error'}])
            jurisdiction = headers.get('cf-r2-jurisdiction', 'default')
            if jurisdiction not in self.buckets:
                return envelope(None, 400, errors=[{'code': 10041, 'message': 'Invalid jurisdiction'}])
            names = sorted(self.buckets[jurisdiction])
            return envelope({'buckets': [{'name': n} for n in names]}, result_info={'cursor': '', 'per_page': 1000})
        if re.match(r'^/accounts/[0-9a-f]{32}/r2/temp-access-credentials$', path) and method == 'POST':
            self.temp_credentials.append(body)
            return envelope({'accessKeyId': secrets.token_hex(16), 'secretAccessKey': secrets.token_hex(32),
                             'sessionToken': secrets.token_urlsafe(96)})
        verify = re.match(r'^(/user|/accounts/[0-9a-f]{32})/tokens/verify$', path)
        if verify:
            token = self.bearer(headers)
            owner = 'user' if verify.group(1) == '/user' else 'account'
            if token is None or token['owner'] != owner:
                return envelope(None, 401, errors=[{'code': 1000, 'message': 'Invalid API Token'}])
            return envelope({'id': token['id'], 'status': token['status']})
        match = re.match(r'^(/user/tokens|/accounts/([0-9a-f]{32})/tokens)(?:/([^/]+))?(/value)?$', path)
        if not match:
            return envelope(None, 404, errors=[{'code': 7003, 'message': 'No route for the URI'}])
        owner = 'user' if match.group(1) == '/user/tokens' else 'account'
        token_id, roll = match.group(3), match.group(4)
        mine = [t for t in self.tokens.values() if t['owner'] == owner]
        if token_id == 'permission_groups':
            name = params.get('name')
            return envelope([{'id': gid, 'name': gname, 'scopes': []} for gname, gid in GROUPS.items()
                             if name in (None, gname)])
        if token_id is None and method == 'GET':
            per_page, page = int(params.get('per_page', 20)), int(params.get('page', 1))
            items = sorted(mine, key=lambda t: t['id'])
            chunk = items[(page - 1) * per_page:page * per_page]
            pages = max(1, -(-len(items) // per_page))
            return envelope([self.public(t) for t in chunk], result_info={
                'page': page, 'per_page': per_page, 'count': len(chunk), 'total_count': len(items),
                'total_pages': pages})
        if token_id is None and method == 'POST':
            token = self.add_token(body['name'], owner, policies=self._enrich(body['policies']),
                                   issued_on=self.now(), modified_on=self.now())
            for field in ('condition', 'expires_on', 'not_before'):
                if body.get(field):
                    token[field] = body[field]
            result = self.public(token)
            result['value'] = token['_value']
            return envelope(result)
        token = self.tokens.get(token_id)
        if token is None or token['owner'] != owner:
            return envelope(None, 404, errors=[{'code': 1003, 'message': 'Token not found'}])
        if roll and method == 'PUT' and token['status'] == 'revoked (exposed)':
            return envelope(None, 400, errors=[{'code': 1001, 'message': 'Token has been revoked'}])
        if roll and method == 'PUT':
            token['_value'] = 'cfat_' + secrets.token_urlsafe(40)[:40]
            token['modified_on'] = self.now()   # rolling updates modified_on (reference section 8)
            return envelope(token['_value'])
        if method == 'PUT':
            for field in ('condition', 'expires_on', 'not_before'):
                token.pop(field, None)
            for field in ('name', 'status', 'condition', 'expires_on', 'not_before'):
                if body.get(field):
                    token[field] = body[field]
            token['policies'] = self._enrich(body['policies'])
            token['modified_on'] = '2026-06-01T00:00:00Z'
            return envelope(self.public(token))
        if method == 'DELETE':
            del self.tokens[token_id]
            return envelope({'id': token_id})
        if method == 'GET':
            return envelope(self.public(token))
        return envelope(None, 405, errors=[{'code': 7001, 'message': 'Method not allowed'}])

    def _enrich(self, policies):
        names = dict((v, k) for k, v in GROUPS.items())
        out = []
        for policy in policies:
            policy = json.loads(json.dumps(policy))
            policy['id'] = hashlib.md5(json.dumps(policy, sort_keys=True).encode()).hexdigest()
            for group in policy['permission_groups']:
                group['name'] = names.get(group['id'], 'Unknown')
            out.append(policy)
        return out
