"""A long-running S3 client as a service on a host would run one: it reads its credentials from the rendered aws
profile once, at start, and again only when told to (SIGHUP), then makes S3 requests continuously.

    python s3_client.py STATE_DIR PROFILE BUCKET

Run as the host's unix user with the test clients' Python (boto3). In STATE_DIR (the user's):
``pid``; ``generation`` ("N KEY_ID": how many times it built its client, and the key id it uses now, written after
the first request with the new client succeeded); ``stats.json`` (requests made, failures with the key id and the
error code of each), rewritten every half second and at exit (SIGTERM).
"""

import json
import os
import signal
import sys
import time

import boto3
import botocore.config
import botocore.exceptions

state, profile, bucket = sys.argv[1:4]
reload_asked = False
stop = False


def on_hup(signum, frame):
    global reload_asked
    reload_asked = True


def on_term(signum, frame):
    global stop
    stop = True


def write(name, text):
    tmp = os.path.join(state, '.%s.tmp' % name)
    with open(tmp, 'w') as handle:
        handle.write(text)
    os.replace(tmp, os.path.join(state, name))


def build():
    # a new session reads ~/.aws/config and ~/.aws/credentials again (endpoint_url and addressing style included)
    session = boto3.Session(profile_name=profile)
    # one attempt: every failed request counts (generous timeouts: the machine may be busy)
    config = botocore.config.Config(retries={'max_attempts': 1, 'mode': 'standard'}, connect_timeout=10,
                                    read_timeout=30, request_checksum_calculation='when_required',
                                    response_checksum_validation='when_required')
    return session.client('s3', config=config), session.get_credentials().access_key


signal.signal(signal.SIGHUP, on_hup)
signal.signal(signal.SIGTERM, on_term)
client, key_id = build()
generation = 1
acknowledged = False
stats = {'requests': 0, 'ok': 0, 'failures': [], 'generations': []}
write('pid', str(os.getpid()))
last_write = 0.0
while not stop:
    if reload_asked:
        reload_asked = False
        client, key_id = build()
        generation += 1
        acknowledged = False
    stats['requests'] += 1
    try:
        client.list_objects_v2(Bucket=bucket, MaxKeys=1)
        stats['ok'] += 1
        if not acknowledged:
            acknowledged = True
            stats['generations'].append([generation, key_id, time.time()])
            write('generation', '%d %s' % (generation, key_id))
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        code = getattr(exc, 'response', {}).get('Error', {}).get('Code') or type(exc).__name__
        stats['failures'].append([time.time(), key_id, code])
    now = time.monotonic()
    if now - last_write > 0.5:
        write('stats.json', json.dumps(stats))
        last_write = now
    time.sleep(0.15)
write('stats.json', json.dumps(stats))
