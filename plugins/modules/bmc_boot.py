#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, wsfc.rolling developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: bmc_boot
short_description: Set the device a server boots from next, with its BMC (IPMI or Redfish)
version_added: 0.1.0
description:
  - Sets the boot override of the server's BMC (IPMI boot flags, Redfish C(Boot.BootSourceOverride*)),
    reads it back and compares; fails if the BMC reads back something else.
  - Sends nothing when the override already holds. Setting it does not restart the server; use
    M(wsfc.rolling.bmc_power) with V(restarted) for that.
  - One-time by default (O(persistent=false)), so the firmware uses it on the next boot and forgets it, the way a
    PXE reprovisioning needs it.
author:
  - wsfc.rolling developers (@wsfc-rolling)
extends_documentation_fragment:
  - wsfc.rolling.bmc
options:
  device:
    description:
      - V(network) (PXE), V(disk), V(cd), V(bios) (firmware setup), or V(none) to clear the override.
    type: str
    required: true
    choices: [network, disk, cd, bios, none]
  persistent:
    description: Keep the override for every boot instead of the next one only.
    type: bool
    default: false
  uefi:
    description: Boot in UEFI mode (V(false) is legacy BIOS mode).
    type: bool
    default: true
attributes:
  check_mode:
    support: full
    description: Reads the override and reports what would change; sets nothing.
  diff_mode:
    support: full
    description: Shows the override before and after.
seealso:
  - module: wsfc.rolling.bmc_power
'''

EXAMPLES = r'''
- name: Boot from the network once (PXE), in UEFI mode
  wsfc.rolling.bmc_boot:
    name: "{{ wsfc_bmc_host }}"
    user: ADMIN
    password: "{{ bmc_password }}"
    device: network
  delegate_to: localhost
'''

RETURN = r'''
boot:
  description: The boot override as read back from the BMC.
  returned: success
  type: dict
  sample: {device: network, persistent: false, uefi: true}
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.wsfc.rolling.plugins.module_utils._argspec import bmc_argument_spec
from ansible_collections.wsfc.rolling.plugins.module_utils._bmc.actions import ensure_boot
from ansible_collections.wsfc.rolling.plugins.module_utils._bmc.client import BmcOptions, connect
from ansible_collections.wsfc.rolling.plugins.module_utils._module import run_module


def _boot(module):
    p = module.params
    client = connect(BmcOptions.from_params(p))
    try:
        return ensure_boot(client, p['device'], p['persistent'], p['uefi'], module.check_mode)
    finally:
        client.close()


def main():
    argument_spec = bmc_argument_spec()
    argument_spec.update(
        device=dict(type='str', required=True, choices=['network', 'disk', 'cd', 'bios', 'none']),
        persistent=dict(type='bool', default=False),
        uefi=dict(type='bool', default=True),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    run_module(module, _boot)


if __name__ == '__main__':
    main()
