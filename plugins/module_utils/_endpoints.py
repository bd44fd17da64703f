# -*- coding: utf-8 -*-
# Copyright: (c) 2026, cloudflare_r2.credentials contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# FOR INTERNAL COLLECTION USE ONLY
# The interfaces in this file are meant for use within the cloudflare_r2.credentials
# collection and may not remain stable to outside uses. Changes may be made in ANY
# release, even a bugfix release.

"""R2's jurisdictions and their S3 endpoints: the one list and the one rule, standard library only, for the
controller side (``_r2``) and the host side (``_client_files``) alike.

Sources: DOCS r2/reference/data-location.mdx ("Jurisdictional buckets can only be accessed via the corresponding
jurisdictional endpoint"); ``us`` since the Cloudflare changelog of 2026-08-17.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

# The jurisdictions Cloudflare documents. The list is open: a name Cloudflare adds later is accepted (the callers
# warn), and the bucket pre-flight catches a typo.
JURISDICTIONS = ('default', 'eu', 'fedramp', 'us')
JURISDICTION_RE = re.compile(r'[a-z][a-z0-9]{1,31}')
JURISDICTION_RULE = 'must be a jurisdiction, a lowercase name of letters and digits such as %s' % ', '.join(JURISDICTIONS)


def is_jurisdiction(value):
    """Whether ``value`` is a jurisdiction name: a known one or any other that fits the rule."""
    return isinstance(value, str) and bool(JURISDICTION_RE.fullmatch(value))


def endpoint_url(account_id, jurisdiction='default'):
    """S3 endpoint of an account in a jurisdiction (the caller validated both)."""
    if jurisdiction == 'default':
        return 'https://%s.r2.cloudflarestorage.com' % account_id
    return 'https://%s.%s.r2.cloudflarestorage.com' % (account_id, jurisdiction)
