#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, wsfc.rolling developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: node_config
short_description: Capture a node's configuration in the cluster database or a file, or check a reinstalled node against it
version_added: 0.1.0
description:
  - O(state=captured) reads the node's physical network adapters, IPv4 addresses, Hyper-V virtual switches,
    disks and installed roles and features, and keeps them as JSON in the cluster database (a private property of
    the cluster object, beside the run lock, written through O(cluster_host)), or in the file O(path) on the
    controller when it is given. Kept in the cluster, a re-run from another controller (a new AWX execution
    environment) finds it.
  - O(state=verified) reads them again and compares with the capture, failing with the differences. Adapters are
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
    description: JSON file on the controller to keep the capture in, instead of the cluster database.
    type: path
  cluster_host:
    description:
      - The cluster's name or address, through which the capture is kept in the cluster database (without O(path)).
        O(winrm_fallback_hosts) are tried when it does not answer; the node itself never is.
    type: str
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
- name: Record HV-N1's configuration in the cluster database before it is evicted and reinstalled
  wsfc.rolling.node_config:
    name: HV-N1
    winrm_host: hv-n1.contoso.com
    cluster_host: hvclu01.contoso.com
    state: captured
  delegate_to: localhost

- name: After the reinstall, check it against the capture
  wsfc.rolling.node_config:
    name: HV-N1
    winrm_host: hv-n1.contoso.com
    cluster_host: hvclu01.contoso.com
    state: verified
  delegate_to: localhost
'''

RETURN = r'''
config:
  description: The configuration read from the node (the capture's content with O(state=captured)).
  returned: success
  type: dict
captured:
  description: With O(state=verified), the capture compared with (its C(extra) holds what O(state=captured) kept).
  returned: when state is verified
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
from ansible_collections.wsfc.rolling.plugins.module_utils._module import run_module, runner_from_module, session_from_module


def _apply(module):
    p = module.params
    store = _Store(module)
    with store:
        if p['state'] == 'verified':
            captured = store.read()
            if captured is None:
                if module.check_mode:
                    # A run in check mode captured nothing (it writes none): nothing to compare with.
                    return {'changed': False, 'config': None, 'differences': {}, 'captured': None,
                            'msg': "check mode: no captured configuration of '%s' in %s to verify against" % (p['name'], store)}
                raise InvalidOption("No captured configuration of '%s' in %s" % (p['name'], store))
        with runner_from_module(module, node=p['name']) as runner:
            current = config.read_config(runner, p['name'])
        if p['state'] == 'captured':
            document = dict(current, node=p['name'], extra=p['extra'])
            changed = store.read() != document
            if changed and not module.check_mode:
                store.write(document)
            return {'changed': changed, 'config': document}
    differences = config.compare(captured, current, p['sections'])
    if differences:
        raise UnsafeToProceed("The configuration of '%s' does not match the capture in %s: %s"
                              % (p['name'], store, json.dumps(differences, sort_keys=True)),
                              details={'differences': differences, 'config': current})
    return {'changed': False, 'config': current, 'differences': {}, 'captured': captured}


class _Store(object):
    """Where the capture of ``name`` is kept: the file ``path``, or the cluster database through ``cluster_host``."""

    def __init__(self, module):
        p = module.params
        self.name, self.path, self.session = p['name'], p['path'], None
        if not self.path:
            if not p['cluster_host']:
                raise InvalidOption('cluster_host is required without path: the capture is kept in the cluster database')
            self.session = session_from_module(module, exclude=self.name, host=p['cluster_host'])

    def __str__(self):
        return self.path or 'the cluster database'

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.session is not None:
            self.session.close()

    def read(self):
        if self.path:
            if not os.path.isfile(self.path):
                return None
            with open(self.path) as handle:
                return json.load(handle)
        value = self.session.call('capture.read', {'node': self.name}, retry=True,
                                  action="Failed to read the capture of '%s' in the cluster database" % self.name)['Value']
        return json.loads(value) if value else None

    def write(self, document):
        text = json.dumps(document, indent=None if self.session else 2, sort_keys=True)
        if self.session is not None:
            self.session.call('capture.write', {'node': self.name, 'value': text}, retry=True,
                              action="Failed to keep the capture of '%s' in the cluster database" % self.name)
            return
        directory = os.path.dirname(self.path)
        if directory and not os.path.isdir(directory):
            os.makedirs(directory)
        with open(self.path + '.tmp', 'w') as handle:
            handle.write(text)
        os.rename(self.path + '.tmp', self.path)


def main():
    argument_spec = winrm_argument_spec()
    argument_spec.update(
        name=dict(type='str', required=True),
        state=dict(type='str', required=True, choices=['captured', 'verified']),
        path=dict(type='path'),
        cluster_host=dict(type='str'),
        sections=dict(type='list', elements='str', default=list(config.SECTIONS), choices=list(config.SECTIONS)),
        extra=dict(type='dict', default={}),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    run_module(module, _apply)


if __name__ == '__main__':
    main()
