# -*- coding: utf-8 -*-
# Copyright: (c) 2026, cloudflare_r2.credentials contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):

    # Where a user's client files are (r2_client_files, r2_client_files_info; the client_config role's
    # client_config_*_file and *_dir variables map onto these).
    DOCUMENTATION = r'''
options:
  aws_config_file:
    description: Absolute path of the aws CLI config file; empty means C(~/.aws/config) in the user's home.
    type: path
  aws_credentials_file:
    description: Absolute path of the aws CLI credentials file; empty means C(~/.aws/credentials).
    type: path
  rclone_config_file:
    description: Absolute path of the rclone configuration; empty means C(~/.config/rclone/rclone.conf).
    type: path
  s3cmd_dir:
    description: Folder of the s3cmd files C(.s3cfg-NAME); empty means the user's home.
    type: path
  env_dir:
    description: Folder of the environment files C(NAME.env); empty means C(~/.config/r2).
    type: path
notes:
  - "Safe against the host's own users: every file is opened without following a link, component by component
    from the home down, and checked on the open descriptor. Symbolic links, FIFOs, sockets, devices, files with
    more than one hard link, files over 1 MiB, files owned by anyone but the user and folders owned by anyone but
    the user or root are refused with one message naming the user and the path, and nothing is read from or written to them."
  - Folders outside the home (path overrides) must exist, be owned by the user or root, and not be writable by
    group or others unless sticky; they are never created or changed.
'''
