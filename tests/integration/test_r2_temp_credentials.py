"""r2_temp_credentials, the r2_credentials lookup and the filters through real ansible-playbook runs.

API traffic goes through Prism; the output of the -vvvv run is scanned for every secret made.
"""

import json

from test_r2_token import assert_no_secrets


def test_temp_credentials_lookup_and_filters_at_vvvv(cf, run_playbook, tmp_path):
    cf.create_bucket('reports', 'eu')
    cf.create_bucket('reports', 'default')
    secrets_file = tmp_path / 'secrets.json'
    result = run_playbook('temp_credentials.yml', extra_vars={'secrets_file': str(secrets_file)}, verbosity=4)
    assert result.rc == 0, result.describe()[-6000:]
    secrets = json.loads(secrets_file.read_text())
    assert len(secrets) == 8 and all(len(s) >= 40 for s in secrets)
    assert_no_secrets(result.output, secrets + [cf.bootstrap_token])
    routes = [r['route'] for r in cf.stats()['requests']]
    # Minted twice through the API (normal and check mode) plus the one Cloudflare refused;
    # the locally checked refusal, the missing bucket and the bad TTL never reached it.
    assert routes.count('POST /accounts/{account_id}/r2/temp-access-credentials') == 3
