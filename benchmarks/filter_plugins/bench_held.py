# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark helper, not part of the collection: the non-secret part of an r2_credential_set result.

Used by benchmarks/credential_set_scale.py (ANSIBLE_FILTER_PLUGINS=benchmarks/filter_plugins) to keep, between a
first run and a converged run, what each holder records (key id, expiry, fingerprint) and never a secret.
"""

from __future__ import annotations

# What a holder records with its copy; everything else of an entry (the secret access key, the session token, the
# decoded token) stays behind.
HELD_FIELDS = ('kind', 'action', 'access_key_id', 'expiration', 'fingerprint')


def bench_held(result):
    """``{changed, failed, summary, api_requests, failures, held: {name: {HELD_FIELDS}}}`` of a registered
    r2_credential_set result (``failures``: the module's messages, which never hold a secret)."""
    result = result or {}
    credentials = result.get('credentials') or {}
    return {
        'changed': bool(result.get('changed')),
        'failed': bool(result.get('failed')),
        'msg': result.get('msg') if result.get('failed') else None,
        'summary': result.get('summary') or {},
        'api_requests': result.get('api_requests') or {},
        'failures': dict(result.get('failures') or {}),
        'held': dict((name, dict((key, entry.get(key)) for key in HELD_FIELDS))
                     for name, entry in credentials.items()),
    }


class FilterModule:  # pylint: disable=too-few-public-methods
    def filters(self):
        return {'r2_bench_held': bench_held}
