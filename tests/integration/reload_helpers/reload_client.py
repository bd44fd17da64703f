"""The reload command of the test's S3 client, as a service's reload would be: tell the client to read its
credentials again (SIGHUP) and wait until it has made a request with them.

    python3 reload_client.py STATE_DIR

Exit 0: the client uses its files again (or none runs: nothing to reload). Exit 1: STATE_DIR/refuse exists (a
reload that fails, as a service with a broken configuration would), or the client did not confirm in 30 seconds.
"""

import os
import signal
import sys
import time

state = sys.argv[1]
if os.path.exists(os.path.join(state, 'refuse')):
    print('reload refused: %s/refuse exists' % state)
    sys.exit(1)


def generation():
    try:
        with open(os.path.join(state, 'generation')) as handle:
            return int(handle.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 0


try:
    with open(os.path.join(state, 'pid')) as handle:
        pid = int(handle.read())
    before = generation()
    os.kill(pid, signal.SIGHUP)
except (OSError, ValueError):
    print('no client running: nothing to reload')
    sys.exit(0)
deadline = time.monotonic() + 30
while time.monotonic() < deadline:
    if generation() > before:
        print('client reloaded')
        sys.exit(0)
    time.sleep(0.05)
print('the client did not confirm the reload in 30 seconds')
sys.exit(1)
