"""Emulator + Prism + recorder, started together: the ``cf`` fixture object."""

from __future__ import annotations

import json
import os
import tempfile
import urllib.error
import urllib.request

from . import paths
from .recorder import RecordingProxy, format_violation
from .services import Emulator, Prism


class AdminError(RuntimeError):
    pass


class CloudflareStack:
    """The emulated Cloudflare API behind a contract-checking proxy.

    Traffic path for modules: ``api_url`` (recorder) -> Prism (``--errors``,
    validates requests and responses against the official OpenAPI extract) ->
    emulator.  ``direct_api_url`` is the emulator itself.

    Attributes: ``api_url``, ``direct_api_url``, ``admin_url``, ``account_id``,
    ``user_id``, ``bootstrap_token``; ``workdir`` holds the services' logs.
    """

    def __init__(self, workdir: str | None = None, bootstrap_token: str | None = None):
        self.workdir = workdir or tempfile.mkdtemp(prefix='cf-', dir=paths.output_dir())
        os.makedirs(self.workdir, exist_ok=True)
        self.emulator = Emulator(self.workdir, bootstrap_token=bootstrap_token)
        self.prism: Prism | None = None
        self.recorder: RecordingProxy | None = None
        self.info: dict = {}
        self._config_defaults: dict | None = None

    # --- lifecycle -------------------------------------------------------------
    def start(self) -> 'CloudflareStack':
        try:
            self.info = self.emulator.start()
            self.prism = Prism(self.workdir, upstream=self.info['api_url']).start()
            self.recorder = RecordingProxy(self.prism.url).start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.recorder is not None:
            self.recorder.stop()
        if self.prism is not None:
            self.prism.stop()
        self.emulator.stop()

    def __enter__(self) -> 'CloudflareStack':
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- addresses ----------------------------------------------------------------
    @property
    def api_url(self) -> str:
        """URL for modules (``api_url``): the recorder, in front of Prism."""
        return self.recorder.api_url

    @property
    def direct_api_url(self) -> str:
        """The emulator's API URL, bypassing Prism and the recorder.

        Only for fault-injection tests.  The official schema documents only the
        ``200`` and ``4XX`` responses of these operations, so an injected 5xx,
        connection reset or timeout is a transport fault that Prism would flag
        as a contract violation (or turn into its own error) although the
        module under test behaves correctly.  Everything else goes through
        ``api_url``.
        """
        return self.info['api_url']

    @property
    def admin_url(self) -> str:
        return self.info['admin_url']

    @property
    def account_id(self) -> str:
        return self.info['account_id']

    @property
    def user_id(self) -> str:
        return self.info['user_id']

    @property
    def bootstrap_token(self) -> str:
        return self.info['bootstrap_token']

    # --- admin API ------------------------------------------------------------------
    def _admin(self, method: str, path: str, payload=None):
        data = None if payload is None else json.dumps(payload).encode()
        req = urllib.request.Request(self.admin_url + path, data=data, method=method,
                                     headers={'Content-Type': 'application/json'} if data else {})
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                body = resp.read()
        except urllib.error.HTTPError as exc:
            raise AdminError('%s %s -> %s: %s' % (method, path, exc.code, exc.read()[:500])) from exc
        return json.loads(body) if body else None

    def stats(self) -> dict:
        """``{requests: [{seq, method, path, route, status, token_id, fault}], counts, writes, total}``"""
        return self._admin('GET', '/stats')

    def reset_stats(self) -> None:
        self._admin('POST', '/stats/reset')

    def add_faults(self, faults: list) -> dict:
        return self._admin('POST', '/faults', {'faults': list(faults)})

    def clear_faults(self) -> None:
        self._admin('DELETE', '/faults')

    def seed_token(self, **fields) -> dict:
        """Create a token directly in the emulator; returns it with its ``value``.

        Fields (tests/emulator/README.md, admin API): ``owner`` (user|account), ``name``, ``policies``,
        ``status`` (active|disabled|'revoked (exposed)'), ``expires_on`` (may be past: expired),
        ``not_before``, ``condition``, ``issued_on``, ``modified_on``, ``last_used_on`` (RFC 3339),
        ``count``.
        """
        return self._admin('POST', '/tokens', fields)

    def revoke_token(self, token_id: str) -> dict:
        """What Cloudflare does to a leaked token: status ``revoked (exposed)``; returns the token."""
        return self._admin('POST', '/tokens/%s/revoke' % token_id, {})

    def expire_token(self, token_id: str) -> dict:
        """Its ``expires_on`` becomes now: the token is ``expired`` from this moment; returns the token."""
        return self._admin('POST', '/tokens/%s/expire' % token_id, {})

    def patch_token(self, token_id: str, **fields) -> dict:
        """Set ``status``, ``expires_on``, ``issued_on``, ``modified_on`` or ``last_used_on`` of a token."""
        return self._admin('PATCH', '/tokens/%s' % token_id, fields)

    def create_bucket(self, name: str, jurisdiction: str = 'default') -> dict:
        """Create an R2 bucket directly in the emulator (and its S3 backend)."""
        return self._admin('POST', '/buckets', {'name': name, 'jurisdiction': jurisdiction})

    def buckets(self) -> dict:
        """``{jurisdiction: [names]}``"""
        return self._admin('GET', '/buckets')

    @property
    def s3_endpoints(self) -> dict:
        """``{jurisdiction: 'http://127.0.0.1:PORT'}`` for default, eu, fedramp and us: the emulator's S3 listeners."""
        return self.info['s3_endpoints']

    def s3_requests(self) -> list:
        """The S3 decisions log (operation, credential kind, decision, reason)."""
        return self.stats().get('s3_requests', [])

    def issued_secrets(self) -> list:
        """Every secret the emulator handed out through the API since the last reset (for leak scans)."""
        return self._admin('GET', '/issued')['secrets']

    def tokens(self):
        return self._admin('GET', '/tokens')

    def wipe_tokens(self) -> None:
        """Delete every token except the bootstrap token."""
        self._admin('DELETE', '/tokens')

    def configure(self, **settings) -> dict:
        """``rate_limit``, ``rate_window``, ``rate_block``, ``token_quota_account``, ``token_quota_user``
        (POST /__emulator/config); returns every setting.

        Undone by ``reset()`` (i.e. before the next test). ``cf.configure(token_quota_account=20)``: creating
        a 21st account token fails with Cloudflare's quota error (1002).
        """
        if self._config_defaults is None:
            self._config_defaults = self._admin('POST', '/config', {})
        return self._admin('POST', '/config', settings)

    def verify(self, value: str, owner: str = 'user') -> bool:
        """Whether the emulator accepts ``value`` as an active token.

        ``owner``: ``'user'`` (GET /user/tokens/verify), ``'account'`` (this
        account's /accounts/{id}/tokens/verify) or an account id.  Goes to the
        emulator directly, so it shows in ``stats()`` but not in the contract
        records.
        """
        if owner == 'user':
            path = '/user/tokens/verify'
        else:
            path = '/accounts/%s/tokens/verify' % (self.account_id if owner == 'account' else owner)
        req = urllib.request.Request(self.direct_api_url + path, headers={'Authorization': 'Bearer ' + value})
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                body = json.loads(resp.read() or b'{}')
        except urllib.error.HTTPError:
            return False
        result = body.get('result') or {}
        return bool(body.get('success')) and result.get('status', 'active') == 'active'

    # --- contract -------------------------------------------------------------------
    def contract_violations(self) -> list:
        """Exchanges through ``api_url`` that broke the contract and were not cleared."""
        return self.recorder.violations()

    def clear_violations(self) -> list:
        """Acknowledge violations provoked on purpose; returns them."""
        return self.recorder.clear_violations()

    def exchanges(self) -> list:
        """Everything recorded through ``api_url`` since the last reset."""
        return self.recorder.exchanges()

    def format_violations(self, violations=None) -> str:
        if violations is None:
            violations = self.contract_violations()
        return '\n'.join(format_violation(v) for v in violations)

    def reset(self) -> None:
        """Between tests: back to the initial state (bootstrap token only, no buckets, no faults,
        empty stats), default rate limits, empty recorder."""
        self._admin('POST', '/reset')
        # restore rate-limit settings changed by configure(); always clears the
        # rate-limit counters, so one test's traffic cannot throttle the next
        self._admin('POST', '/config', self._config_defaults or {})
        self.recorder.reset()

    def summary(self) -> dict:
        """Totals for the session report, including the Prism log cross-check."""
        log = self.prism.log_violations() if self.prism else {'rejections': [], 'response_violations': []}
        rec = self.recorder
        # Prism's log must not show more rejections / response violations than the
        # recorder saw (counting those cleared on purpose): otherwise some traffic
        # bypassed the recorder's checks.
        unexplained = bool(rec) and (len(log['rejections']) > rec.total_prism_rejections
                                     or len(log['response_violations']) > rec.total_sl_entries)
        return {
            'requests': rec.total_requests if rec else 0,
            'violations': rec.total_violations if rec else 0,
            'acknowledged': rec.acknowledged if rec else 0,
            'log_rejections': len(log['rejections']),
            'log_response_violations': len(log['response_violations']),
            'log_sample': (log['rejections'] + log['response_violations'])[:10],
            'unexplained_log_violations': unexplained,
            'prism_log': self.prism.log_path if self.prism else None,
        }
