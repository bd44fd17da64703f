"""The request pacer (issue 11, build 3) through real ansible-playbook runs against the emulator.

Scale: Cloudflare's 1200 requests per 300 s per token (and its five-minute lockout) become 130 per 20 s (and a
20 s lockout) in the emulator, 6.5 requests a second where Cloudflare allows 4, and the module is told the same
limit with ``rate_limit`` / ``rate_window``. The emulator counts each token's requests in a fixed window and,
once one holds more than ``rate_limit``, answers HTTP 429 to every call for ``rate_block`` seconds. conftest's
``reset()`` before each test restores its default limit and wipes the tokens.

The timed run goes to the emulator directly (``direct``): through the contract-checking recorder and Prism a
request took about 100 ms on a busy two-core machine (this run's 309 requests, unpaced, in 31 s, about the pacing
floor of 30 s), so the bound would measure Prism; directly the same run took 8 s. The same requests go through
Prism in the other tests, and the 429 test here goes through it.
"""

import json

# The scale (see above). The window is long enough that the pacing waits dominate the bound: 1.2 x the floor
# leaves 0.77 of a window (15 s) for the requests' own time on a slow machine.
RATE_LIMIT, RATE_WINDOW = 130, 20.0
WRITES = 300
TOKEN_ROUTE = 'POST /accounts/{account_id}/tokens'


def run_paced(cf, run_playbook, tmp_path, tokens, **kwargs):
    result_file = tmp_path / 'pacer.json'
    result = run_playbook('pacer.yml', extra_vars={
        'pacer_tokens': tokens, 'pacer_rate_limit': RATE_LIMIT, 'pacer_rate_window': RATE_WINDOW,
        'result_file': str(result_file)}, **kwargs)
    assert result.rc == 0, result.describe()[-6000:]
    return result, json.loads(result_file.read_text())


def test_a_reconcile_of_300_writes_is_paced_without_a_single_429(cf, run_playbook, tmp_path):
    """300 token creates in one task: no HTTP 429 at all, and the task takes at most 1.2 x the pacing floor
    (writes / allowed rate = 300 / (130 / 20 s) = 46 s): the pacer neither overruns the limit nor wastes time.

    The pacer sends 117 (130 less 10%) at once, then waits for the oldest to leave the window: the run's ~309
    requests (listings and lookups count too) take two waits of about a window, 40 s plus the requests' own time
    (any count from 235 to 351 does); no client that keeps the limit can send them in less than
    (309 - 1) // 130 x 20 s = 40 s."""
    cf.configure(rate_limit=RATE_LIMIT, rate_window=RATE_WINDOW, rate_block=RATE_WINDOW)
    try:
        tokens = [{'name': 'pacer-%03d' % index, 'permission': 'admin_read_only'} for index in range(WRITES)]
        dummy, done = run_paced(cf, run_playbook, tmp_path, tokens, timeout=240, direct=True)
        requests = cf.stats()['requests']
    finally:
        cf.wipe_tokens()   # reset() before the next test does it too; 300 tokens are not left a moment longer
    statuses = [r['status'] for r in requests]
    creates = [r for r in requests if r['route'] == TOKEN_ROUTE]
    wall = done['ended'] - done['started']
    floor = WRITES / (RATE_LIMIT / RATE_WINDOW)
    least = (len(requests) - 1) // RATE_LIMIT * RATE_WINDOW   # the least any client within the limit needs
    print('pacer: %d requests, %d writes, %d HTTP 429, task %.1fs, floor %.1fs, ratio %.2f (least %.0fs)'
          % (len(requests), len(creates), statuses.count(429), wall, floor, wall / floor, least))
    assert statuses.count(429) == 0, [r for r in requests if r['status'] == 429][:3]
    assert len(creates) == WRITES and all(r['status'] == 200 for r in creates)
    assert done['summary'].get('created') == WRITES, done['summary']
    assert done['api_requests']['total'] == len(requests)   # the emulator saw this run's requests, no other
    # More than two windows' worth of requests, all accepted: the pacer spaced them ...
    assert len(requests) > 2 * RATE_LIMIT
    assert wall >= least, wall
    # ... and within 1.2 x the floor (an upper bound: the pacing sleeps dominate, the requests take little)
    assert wall <= 1.2 * floor, 'task took %.1fs, more than 1.2 x the pacing floor of %.1fs' % (wall, floor)


def test_a_429_that_still_comes_is_waited_out_with_a_warning_and_the_write_applied_once(cf, run_playbook,
                                                                                        tmp_path):
    """One HTTP 429 (retry-after 3 s) on the token create: the task shows the wait as a warning, waits, resends
    the create (a 429 was not processed) and succeeds with one token."""
    cf.add_faults([{'route': TOKEN_ROUTE, 'action': '429', 'retry_after': 3, 'times': 1}])
    result, done = run_paced(cf, run_playbook, tmp_path, [{'name': 'pacer-lockout', 'permission': 'admin_read_only'}],
                             timeout=120)
    creates = [r for r in cf.stats()['requests'] if r['route'] == TOKEN_ROUTE]
    assert [(r['status'], r['fault']) for r in creates] == [(429, '429'), (200, None)]
    assert [t['name'] for t in cf.tokens()].count('pacer-lockout') == 1
    assert done['summary'].get('created') == 1 and done['changed']
    path = '/accounts/%s/tokens' % cf.account_id
    wait = [w for w in done['warnings'] if 'rate limited' in w]
    assert len(wait) == 1 and wait[0].startswith(
        'cloudflare: rate limited on POST %s (HTTP 429); waiting 3s (until ' % path), done['warnings']
    assert wait[0] in ' '.join(result.output.split()), result.output[-3000:]   # shown in the task's output
    assert done['ended'] - done['started'] >= 3.0
