# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one bucket pre-flight: one listing per jurisdiction, one message, warnings when it cannot list."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.cloudflare_r2.credentials.plugins.module_utils import _api, _buckets, _r2
from ansible_collections.cloudflare_r2.credentials.tests.unit.utils.fake_cloudflare import FakeCloudflare

ACCOUNT = '0123456789abcdef0123456789abcdef'


@pytest.fixture
def fake():
    cloudflare = FakeCloudflare(ACCOUNT)
    for jurisdiction, name in (('default', 'media'), ('eu', 'media'), ('us', 'residency')):
        cloudflare.add_bucket(name, jurisdiction)
    return cloudflare


def checker(fake, **options):
    client = _api.CloudflareClient('cfat_' + 'q7' * 20, session=fake.session(), sleep=lambda s: None)
    return _buckets.BucketChecker(client, ACCOUNT, **options)


def listings(fake):
    return [c for c in fake.calls if c[1].endswith('/r2/buckets')]


def test_one_listing_per_jurisdiction_and_every_missing_bucket_in_one_message(fake):
    check = checker(fake)
    check.check([('default', 'media'), ('us', 'residency')])
    check.check([('eu', 'media')], 'bucket', 'temporary[0] (upload)')
    with pytest.raises(_r2.R2ValueError) as error:
        check.check([('eu', 'nope'), ('eu', 'media'), ('eu', 'gone')], 'buckets', 'tokens[3] (web1)')
    assert str(error.value).startswith("tokens[3] (web1): buckets: bucket(s) 'gone', 'nope' do not exist in "
                                       "jurisdiction 'eu' of account %s" % ACCOUNT)
    assert 'set check_buckets=false' in str(error.value)
    assert len(listings(fake)) == 3


def test_a_token_that_may_not_list_buckets_gets_one_warning_per_jurisdiction(fake):
    fake.bucket_list_denied = True
    check = checker(fake, option='check_bucket')
    check.check([('eu', 'anything')], 'bucket')
    check.check([('eu', 'other'), ('default', 'x')], 'bucket')
    warnings = check.take_warnings()
    assert len(warnings) == 2 and warnings[0].startswith("check_bucket: could not list the buckets of jurisdiction 'eu'")
    assert check.take_warnings() == []


def test_turned_off_it_lists_nothing(fake):
    checker(fake, enabled=False).check([('eu', 'nope')])
    assert listings(fake) == []


def test_a_jurisdiction_cloudflare_does_not_know_is_one_clear_error(fake):
    with pytest.raises(_r2.R2ValueError, match="jurisdiction: Cloudflare does not know jurisdiction 'mars'"):
        checker(fake).check([('mars', 'media')])
    # for a jurisdiction the collection knows, a refusal is Cloudflare's error as it is
    del fake.buckets['us']
    with pytest.raises(_api.CloudflareApiError):
        checker(fake).check([('us', 'media')])
