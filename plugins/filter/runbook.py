# -*- coding: utf-8 -*-
# Copyright: (c) 2026, wsfc.rolling developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
name: option_errors
short_description: What is wrong with a runbook's role variables, named as the user set them
version_added: 0.2.0
description:
  - Checks the C(rolling_update_*) or C(rolling_upgrade_*) variables that the role argument specs cannot
    check (ranges, update classification names, KB ids, node names) and returns one message per problem, each
    naming the variable and the value given. The runbooks fail with them before anything is changed.
author:
  - wsfc.rolling developers (@wsfc-rolling)
options:
  _input:
    description: The role's variables (name to value); unknown names are ignored.
    type: dict
    required: true
  runbook:
    description: V(rolling_update) or V(rolling_upgrade).
    type: str
    required: true
  nodes:
    description: The cluster's node names, to check node lists against.
    type: list
    elements: str
'''

EXAMPLES = r'''
- name: Refuse bad options before anything changes
  ansible.builtin.assert:
    that: __errors | length == 0
    fail_msg: "{{ __errors | join('; ') }}"
  vars:
    __errors: "{{ {'rolling_update_drain_timeout': 0} | wsfc.rolling.option_errors('rolling_update', groups['wsfc_cluster']) }}"
'''

RETURN = r'''
_value:
  description: One message per problem; empty when every option is usable.
  type: list
  elements: str
'''

from ansible_collections.wsfc.rolling.plugins.module_utils._runbook import option_errors


class FilterModule(object):
    def filters(self):
        return {'option_errors': option_errors}
