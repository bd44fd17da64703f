# -*- coding: utf-8 -*-
# Copyright: (c) 2026, cloudflare_r2.credentials contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# FOR INTERNAL COLLECTION USE ONLY
# The interfaces in this file are meant for use within the cloudflare_r2.credentials
# collection and may not remain stable to outside uses. Changes may be made in ANY
# release, even a bugfix release.

"""The AnsibleModule every module of the collection builds (controller and host side)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.cloudflare_r2.credentials.plugins.module_utils import _text


class MaskedModule(AnsibleModule):
    """An AnsibleModule that masks every ``no_log`` value in its escaped forms too (``_text.escaped_forms``)
    before anything is logged: ansible-core logs the invocation from ``__init__`` (syslog, the journal), showing the
    values of list and dict options by repr(), where a secret with a newline or a quote appears escaped and exact
    matching would miss it."""

    def _log_invocation(self):
        _text.mask_escaped(self.no_log_values)
        super(MaskedModule, self)._log_invocation()
