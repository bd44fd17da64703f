"""Child process: the moto S3 servers, one per R2 jurisdiction (see backends.py).

Usage: moto_child.py HOST LABEL [LABEL...]

It is run by path, not as part of the cfemu package, so it imports only moto.
Importing moto and building its S3 app takes most of a second of CPU.  So this
process does that once, then forks once for each extra label, before any
thread is started.  Each process then serves one label.  The processes share
no memory after the fork, so each one holds its own S3 namespace.

Each process writes one JSON line {"label", "port", "pid"} to stdout.  It then
serves until SIGTERM, SIGINT or EOF on stdin.  The stdin pipe, shared by all of
them, is the lifeline: when the emulator dies, even by SIGKILL, the pipe
closes and every server exits, so no moto process is left orphaned.  The
first process reaps the ones it forked before it exits.
"""

import json
import logging
import os
import signal
import sys
import threading
import time


def _serve(app, host, label, children):
    from werkzeug.serving import make_server  # pylint: disable=import-outside-toplevel
    from moto.moto_server.werkzeug_app import MotoRequestHandler  # pylint: disable=import-outside-toplevel

    server = make_server(host, 0, app, threaded=True, request_handler=MotoRequestHandler)
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())

    def lifeline():
        while os.read(0, 65536):  # returns b"" at EOF: the emulator closed the pipe or died
            pass
        done.set()

    threading.Thread(target=lifeline, daemon=True).start()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    # One write() of a short line: atomic on a pipe, so the lines of the forked
    # processes never interleave.
    os.write(1, (json.dumps({"label": label, "port": server.server_address[1], "pid": os.getpid()}) + "\n").encode())
    done.wait()
    for pid in children:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 5
    for pid in children:  # reap them, so that none lingers as a zombie
        while time.monotonic() < deadline:
            try:
                if os.waitpid(pid, os.WNOHANG)[0]:
                    break
            except ChildProcessError:
                break
            time.sleep(0.02)
    # State lives in memory only: nothing to flush, so skip the graceful join.
    os._exit(0)  # pylint: disable=protected-access


def main():
    host, labels = sys.argv[1], sys.argv[2:]
    # werkzeug would log every request to stderr; the gateway keeps its own log.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    from moto.moto_server.werkzeug_app import (  # pylint: disable=import-outside-toplevel
        DomainDispatcherApplication, create_backend_app)

    app = DomainDispatcherApplication(create_backend_app)
    # Build the S3 and moto-api apps now, so that the forked processes inherit them
    # and the first request is fast.  moto picks the S3 app from the credential
    # scope of the placeholder Authorization that backends.py sends.
    for path in ("/", "/moto-api/reset"):
        app.get_application({"PATH_INFO": path, "REQUEST_METHOD": "GET", "HTTP_HOST": "s3.amazonaws.com",
                             "HTTP_AUTHORIZATION": "AWS4-HMAC-SHA256 Credential=x/20000101/us-east-1/s3/aws4_request"})
    children = []
    for label in labels[1:]:
        pid = os.fork()
        if pid == 0:
            _serve(app, host, label, [])
        children.append(pid)
    _serve(app, host, labels[0], children)


if __name__ == "__main__":
    main()
