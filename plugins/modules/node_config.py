#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, wsfc.rolling developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: node_config
short_description: Capture a node's configuration to a file, or check a reinstalled node against it
version_added: 0.1.0
description:
  - O(state=captured) reads the node's physical network adapters, IPv4 addresses, Hyper-V virtual switches,
    disks and installed roles and features, and writes them as JSON to O(path) on the controller.
  - O(state=verified) reads them again and compares with the file, failing with the differences. Adapters are
    matched by name and MAC address, disks by serial number, size and bus, addresses and switches by name;
    every captured feature must be installed again (more are allowed).
  - Used by the rolling upgrade before a node is evicted and after it was reprovisioned; the provisioning itself
    (image, unattend) is the user's.
  - Runs on the node itself (O(winrm_host) is the node's address).
author:
  - wsfc.rolling developers (@wsfc-rolling)
extends_documentation_fragment:
  - wsfc.rolling.winrm
options:
  name:
    description: The node's name (for messages and the file).
    type: str
    required: true
  state:
    description: V(captured) writes the file; V(verified) checks the node against it.
    type: str
    required: true
    choices: [captured, verified]
  path:
    description: JSON file on the controller.
    type: path
    required: true
  sections:
    description: What O(state=verified) compares.
    type: list
    elements: str
    choices: [adapters, ip_addresses, vswitches, disks, features]
    default: [adapters, ip_addresses, vswitches, disks, features]
  extra:
    description: Other facts to keep in the file with O(state=captured), for example the roles the node owned.
    type: dict
    default: {}
attributes:
  check_mode:
    support: full
    description: With O(state=captured) nothing is written; O(state=verified) only reads, and without a capture (check mode
      wrote none) it reports that and passes.
  diff_mode:
    support: none
    description: The file's content is returned as RV(config).
'''

EXAMPLES = r'''
- name: Record HV-N1's configuration before it is evicted and reinstalled
  wsfc.rolling.node_config:
    name: HV-N1
    winrm_host: hv-n1.contoso.com
    state: captured
    path: "/var/lib/wsfc/{{ cluster }}/HV-N1.json"
  delegate_to: localhost
'''

RETURN = r'''
config:
  description: The configuration read from the node (the file's content with O(state=captured)).
  returned: success
  type: dict
differences:
  description: With O(state=verified), per section the captured items missing on the node and the unexpected ones.
  returned: when state is verified
  type: dict
  sample: {vswitches: {missing: ["Name=ConvergedSwitch SwitchType=External"], unexpected: []}}
'''

import json
import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.wsfc.rolling.plugins.module_utils._argspec import winrm_argument_spec
from ansible_collections.wsfc.rolling.plugins.module_utils._cluster import config
from ansible_collections.wsfc.rolling.plugins.module_utils._errors import InvalidOption, UnsafeToProceed
from ansible_collections.wsfc.rolling.plugins.module_utils._module import run_module, runner_from_module


def _apply(module):
    p = module.params
    path = p['path']
    if p['state'] == 'verified' and not os.path.isfile(path):
        if module.check_mode:
            # A run in check mode captured nothing (it writes no file): nothing to compare with.
            return {'changed': False, 'config': None, 'differences': {},
                    'msg': "check mode: no captured configuration of '%s' at %s to verify against" % (p['name'], path)}
        raise InvalidOption("No captured configuration of '%s' at %s" % (p['name'], path))
    with runner_from_module(module, node=p['name']) as runner:
        current = config.read_config(runner, p['name'])
    if p['state'] == 'captured':
        document = dict(current, node=p['name'], extra=p['extra'])
        text = json.dumps(document, indent=2, sort_keys=True)
        old = open(path).read() if os.path.isfile(path) else None
        changed = old != text
        if changed and not module.check_mode:
            directory = os.path.dirname(path)
            if directory and not os.path.isdir(directory):
                os.makedirs(directory)
            with open(path + '.tmp', 'w') as handle:
                handle.write(text)
            os.rename(path + '.tmp', path)
        return {'changed': changed, 'config': document}
    with open(path) as handle:
        captured = json.load(handle)
    differences = config.compare(captured, current, p['sections'])
    if differences:
        raise UnsafeToProceed("The configuration of '%s' does not match the capture in %s: %s"
                              % (p['name'], path, json.dumps(differences, sort_keys=True)),
                              details={'differences': differences, 'config': current})
    return {'changed': False, 'config': current, 'differences': {}}


def main():
    argument_spec = winrm_argument_spec()
    argument_spec.update(
        name=dict(type='str', required=True),
        state=dict(type='str', required=True, choices=['captured', 'verified']),
        path=dict(type='path', required=True),
        sections=dict(type='list', elements='str', default=list(config.SECTIONS), choices=list(config.SECTIONS)),
        extra=dict(type='dict', default={}),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    run_module(module, _apply)


if __name__ == '__main__':
    main()
