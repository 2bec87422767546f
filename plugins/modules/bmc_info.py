#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, wsfc.rolling developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: bmc_info
short_description: Read a server's power state, boot override and identity from its BMC
version_added: 0.1.0
description:
  - Reads the chassis power state, the boot override, and what the BMC says about the system.
  - Over Redfish that is the manufacturer, model, serial number, BIOS version and BMC firmware version. Over
    IPMI it is what Get Device ID gives (BMC firmware and IPMI version, manufacturer and product ids); IPMI
    keeps model and serial number in FRU records, which not every BMC fills in, so they are not read.
author:
  - wsfc.rolling developers (@wsfc-rolling)
extends_documentation_fragment:
  - wsfc.rolling.bmc
  - wsfc.rolling.winrm.READ_ONLY
seealso:
  - module: wsfc.rolling.bmc_power
  - module: wsfc.rolling.bmc_boot
'''

EXAMPLES = r'''
- name: Check every node's BMC answers before an upgrade
  wsfc.rolling.bmc_info:
    name: "{{ wsfc_bmc_host }}"
    user: ADMIN
    password: "{{ bmc_password }}"
  delegate_to: localhost
  register: bmc
'''

RETURN = r'''
power_state:
  description: Chassis power, V(on) or V(off).
  returned: success
  type: str
  sample: "on"
boot:
  description: The boot override; O(wsfc.rolling.bmc_boot#module:device) names, V(none) when there is none.
  returned: success
  type: dict
  sample: {device: none, persistent: false, uefi: null}
system:
  description: What the BMC says about the system; keys depend on the protocol (see the description).
  returned: success
  type: dict
  sample: {manufacturer: Contoso, model: R760, serial_number: ABC1234, bios_version: 2.3.5, firmware_version: "7.10"}
identity_confirmed:
  description:
    - V(true) when the BMC reported O(system_serial), V(false) when it reports no serial number (so the
      identity could not be confirmed), V(null) when O(system_serial) was not given.
  returned: success
  type: bool
protocol:
  description: The protocol used.
  returned: success
  type: str
  sample: ipmi
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.wsfc.rolling.plugins.module_utils._argspec import bmc_argument_spec
from ansible_collections.wsfc.rolling.plugins.module_utils._bmc.client import BmcOptions, connect
from ansible_collections.wsfc.rolling.plugins.module_utils._module import run_module


def _info(module):
    options = BmcOptions.from_params(module.params)
    client = connect(options)
    try:
        return dict(changed=False, power_state=client.power_state(), boot=client.boot(), system=client.system(),
                    identity_confirmed=client.identity_confirmed, protocol=options.protocol)
    finally:
        client.close()


def main():
    module = AnsibleModule(argument_spec=bmc_argument_spec(), supports_check_mode=True)
    run_module(module, _info)


if __name__ == '__main__':
    main()
