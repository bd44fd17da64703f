"""cfemu: a stateful local emulator of the Cloudflare v4 API token endpoints.

Used by the collection's integration tests (behind Stoplight Prism in proxy
mode) and by the demo.  Standard library only.  See README.md next to this
package for the CLI, the admin API and the error codes it returns.
"""

from .server import Emulator  # noqa: F401

__all__ = ["Emulator"]
