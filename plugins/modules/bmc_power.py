#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, wsfc.rolling developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: bmc_power
short_description: Power a server on, off or through a restart with its BMC (IPMI or Redfish)
version_added: 0.1.0
description:
  - Reads the chassis power state from the server's BMC and changes it only when it differs from O(state);
    no command is sent when the server is already there.
  - A graceful stop asks the operating system to shut down (ACPI soft-off over IPMI, C(GracefulShutdown) over
    Redfish) and switches the power off hard only if the server is still on after O(graceful_timeout) seconds.
  - Taking the power away from a cluster node is disruptive. Drain and (for an upgrade) evict the node first;
    the rolling playbooks do so.
author:
  - wsfc.rolling developers (@wsfc-rolling)
extends_documentation_fragment:
  - wsfc.rolling.bmc
  - wsfc.rolling.winrm.WAIT
options:
  state:
    description:
      - V(powered_on) and V(powered_off) are reached and then left alone (idempotent).
      - V(restarted) always acts and always reports a change. A server that is off is powered on; one that is on
        is stopped (gracefully when O(graceful=true)) and powered on again, or power-cycled when O(graceful=false).
    type: str
    required: true
    choices: [powered_on, powered_off, restarted]
  graceful:
    description: Ask the operating system to shut down before removing the power.
    type: bool
    default: true
  graceful_timeout:
    description: Seconds to wait for a graceful shutdown before switching the power off hard.
    type: int
    default: 300
  wait_timeout:
    description: Seconds to wait for the BMC to report the wanted power state.
    type: int
    default: 600
attributes:
  check_mode:
    support: full
    description: Reads the power state and reports what would change; sends no power command.
  diff_mode:
    support: full
    description: Shows the power state before and after.
seealso:
  - module: wsfc.rolling.bmc_boot
  - module: wsfc.rolling.bmc_info
'''

EXAMPLES = r'''
- name: Switch the node off gracefully (hard after 5 minutes)
  wsfc.rolling.bmc_power:
    name: "{{ wsfc_bmc_host }}"
    user: ADMIN
    password: "{{ bmc_password }}"
    state: powered_off
  delegate_to: localhost

- name: Power-cycle a node that hangs, over Redfish with a pinned certificate
  wsfc.rolling.bmc_power:
    name: bmc-hv-n2.contoso.com
    protocol: redfish
    fingerprint: "3a:5f:...:c1"
    user: root
    password: "{{ bmc_password }}"
    state: restarted
    graceful: false
  delegate_to: localhost
'''

RETURN = r'''
power_state:
  description: The chassis power state the BMC reported last (V(on) or V(off)).
  returned: success
  type: str
  sample: "on"
actions:
  description: Power actions sent, in order (V(soft_off), V(off), V(on), V(cycle)); empty when nothing was needed.
  returned: success
  type: list
  elements: str
  sample: [soft_off, "on"]
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.wsfc.rolling.plugins.module_utils._argspec import (
    bmc_argument_spec, check_wait_options, wait_argument_spec)
from ansible_collections.wsfc.rolling.plugins.module_utils._bmc.actions import ensure_power
from ansible_collections.wsfc.rolling.plugins.module_utils._bmc.client import BmcOptions, connect
from ansible_collections.wsfc.rolling.plugins.module_utils._errors import InvalidOption
from ansible_collections.wsfc.rolling.plugins.module_utils._module import run_module


def _power(module):
    p = module.params
    check_wait_options(p)
    if p['graceful_timeout'] <= 0:
        raise InvalidOption('graceful_timeout must be greater than 0, got %d' % p['graceful_timeout'])
    client = connect(BmcOptions.from_params(p))
    try:
        return ensure_power(client, p['state'], p['graceful'], p['graceful_timeout'], p['wait'], p['wait_timeout'],
                            p['poll_interval'], module.check_mode)
    finally:
        client.close()


def main():
    argument_spec = bmc_argument_spec()
    argument_spec.update(wait_argument_spec(600, heartbeat=False))
    argument_spec.update(
        state=dict(type='str', required=True, choices=['powered_on', 'powered_off', 'restarted']),
        graceful=dict(type='bool', default=True),
        graceful_timeout=dict(type='int', default=300),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    run_module(module, _power)


if __name__ == '__main__':
    main()
