"""CLI: python -m cfemu --host 127.0.0.1 --port 0 [--info-file PATH] [--no-s3] ...

Prints one JSON line describing the running emulator (and writes it to
--info-file, mode 0600), then serves until SIGTERM or SIGINT.  The line
includes s3_endpoints; the moto backends behind them are stopped on exit.
"""

import argparse
import json
import os
import re
import signal
import sys
import threading

from .server import Emulator
from .state import QUOTA


def _write_info(path, line):
    # Written to a temp file and renamed, so a poller never reads half a line;
    # 0600 because it carries the bootstrap token.
    tmp = f"{path}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write(line + "\n")
    os.replace(tmp, path)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m cfemu", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 = pick a free port")
    parser.add_argument("--account-id", help="32 lowercase hex (default: random)")
    parser.add_argument("--user-id", help="32 lowercase hex (default: random)")
    parser.add_argument("--bootstrap-token", default=os.environ.get("CFEMU_BOOTSTRAP_TOKEN"),
                        help="value of the bootstrap user token (default: $CFEMU_BOOTSTRAP_TOKEN or random cfut_...)")
    parser.add_argument("--info-file", help="also write the JSON info line here (mode 0600)")
    parser.add_argument("--rate-limit", type=int, default=1200, help="requests per window per token")
    parser.add_argument("--rate-window", type=float, default=300, help="seconds")
    parser.add_argument("--rate-block", type=float, default=300, help="seconds blocked once exceeded")
    parser.add_argument("--token-quota-account", type=int, default=QUOTA["account"],
                        help="account-owned tokens an account may hold (default: Cloudflare's, %(default)s)")
    parser.add_argument("--token-quota-user", type=int, default=QUOTA["user"],
                        help="user-owned tokens the user may hold (default: Cloudflare's, %(default)s)")
    parser.add_argument("--no-s3", action="store_true",
                        help="token API only: no S3 gateways, no moto backends (s3_endpoints is empty)")
    parser.add_argument("--verbose", action="store_true", help="log each request to stderr")
    args = parser.parse_args(argv)
    for name in ("account_id", "user_id"):
        val = getattr(args, name)
        if val is not None and not re.fullmatch(r"[0-9a-f]{32}", val):
            parser.error(f"--{name.replace('_', '-')} must be 32 lowercase hex characters")
    for name in ("token_quota_account", "token_quota_user"):
        if getattr(args, name) < 0:
            parser.error(f"--{name.replace('_', '-')} must be an integer >= 0")

    emu = Emulator(host=args.host, port=args.port, account_id=args.account_id, user_id=args.user_id,
                   bootstrap_token=args.bootstrap_token or None, rate_limit=args.rate_limit,
                   rate_window=args.rate_window, rate_block=args.rate_block, verbose=args.verbose,
                   s3=not args.no_s3, token_quota_account=args.token_quota_account,
                   token_quota_user=args.token_quota_user)
    done = threading.Event()
    # Installed before start(): a SIGTERM during the moto start-up still goes
    # through emu.stop() below and so ends the backends.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    emu.start()
    line = json.dumps(emu.info())
    if args.info_file:
        _write_info(args.info_file, line)
    sys.stdout.write(line + "\n")
    sys.stdout.flush()
    try:
        while not done.wait(0.5):
            pass
    finally:
        emu.stop()  # also stops every moto backend
    return 0


if __name__ == "__main__":
    sys.exit(main())
