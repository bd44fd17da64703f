# -*- coding: utf-8 -*-
# Copyright: (c) 2026, cloudflare_r2.credentials contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# FOR INTERNAL COLLECTION USE ONLY
# The interfaces in this file are meant for use within the cloudflare_r2.credentials
# collection and may not remain stable to outside uses. Changes may be made in ANY
# release, even a bugfix release.

"""The one bucket pre-flight: do the buckets a token or a temporary credential names exist?

Cloudflare accepts a token for a bucket that does not exist, and the token then silently grants nothing there, so
a typo (in the name or the jurisdiction) is worth a failure before any write. One listing per jurisdiction per
run, one message that names every missing bucket of a field.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.cloudflare_r2.credentials.plugins.module_utils._api import (
    CloudflareApiError,
    CloudflarePermissionError,
)
from ansible_collections.cloudflare_r2.credentials.plugins.module_utils import _r2


def bucket_names(client, account_id, jurisdiction):
    """Names of the buckets in one jurisdiction (R2 bucket list, cursor-paginated, cf-r2-jurisdiction header)."""
    path = '/accounts/%s/r2/buckets' % account_id
    return set(b.get('name') for b in client.paginate_cursor(
        path, 'buckets', headers={'cf-r2-jurisdiction': jurisdiction}))


class BucketChecker:
    """Checks (jurisdiction, name) pairs against the account's buckets; lists each jurisdiction once.

    ``option`` is the module option that turns the check off, for messages. When the API token may not list the
    buckets of a jurisdiction, its buckets are not checked and ``warnings`` says so (once per jurisdiction).
    """

    def __init__(self, client, account_id, enabled=True, option='check_buckets'):
        self.client = client
        self.account_id = account_id
        self.enabled = enabled
        self.option = option
        self.warnings = []
        self._listings = {}

    def listing(self, jurisdiction):
        """The bucket names of a jurisdiction, or None when they cannot be listed."""
        if jurisdiction not in self._listings:
            try:
                self._listings[jurisdiction] = bucket_names(self.client, self.account_id, jurisdiction)
            except CloudflarePermissionError:
                self._listings[jurisdiction] = None
                self.warnings.append(
                    '%s: could not list the buckets of jurisdiction %r (the API token may not list buckets), so '
                    'their existence was not checked. Set %s=false to skip the check.'
                    % (self.option, jurisdiction, self.option))
            except CloudflareApiError as exc:
                if jurisdiction in _r2.JURISDICTIONS or exc.status not in (400, 404, 422):
                    raise
                raise _r2.R2ValueError(
                    'jurisdiction: Cloudflare does not know jurisdiction %r (its bucket listing refused it with HTTP '
                    '%d); the known ones are %s' % (jurisdiction, exc.status, ', '.join(_r2.JURISDICTIONS)))
        return self._listings[jurisdiction]

    def check(self, buckets, field='buckets', label=None):
        """Fail, naming ``label: field``, when any of the (jurisdiction, name) pairs does not exist."""
        if not self.enabled or not buckets:
            return
        by_jurisdiction = {}
        for jurisdiction, name in buckets:
            by_jurisdiction.setdefault(jurisdiction, []).append(name)
        for jurisdiction in sorted(by_jurisdiction, key=_r2.jurisdiction_order):
            try:
                existing = self.listing(jurisdiction)
            except _r2.R2ValueError as exc:
                raise _r2.R2ValueError('%s%s' % ('%s: ' % label if label else '', exc))
            missing = sorted(n for n in by_jurisdiction[jurisdiction] if existing is not None and n not in existing)
            if missing:
                raise _r2.R2ValueError(
                    '%s%s: bucket(s) %s do not exist in jurisdiction %r of account %s. A bucket is reachable only in '
                    'the jurisdiction it was created in; check the name and the jurisdiction, or set %s=false.'
                    % ('%s: ' % label if label else '', field, ', '.join(repr(m) for m in missing), jurisdiction,
                       self.account_id, self.option))

    def take_warnings(self):
        taken, self.warnings = self.warnings, []
        return taken
