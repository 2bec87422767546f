#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, wsfc.rolling developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: cluster_lock
short_description: Take, update or release the rolling-run lock of a failover cluster
version_added: 0.1.0
description:
  - One rolling run at a time per cluster. The lock records its owner, run id, expiry and the node being
    worked on, in a private property (C(WsfcRollingLock)) of the cluster object, which the cluster
    database replicates to every node (also on clusters without a core network name, AD-detached or
    Distributed Network Name).
  - Two controllers that start at the same moment never both hold it. Windows has no compare-and-set on
    a property, so a new holder first writes a claim and a ticket (C(WsfcRollingClaim-*) properties) and
    writes the lock only when no other claim goes first; the one that loses is refused with the run that
    goes first. A claim left by a controller that died between its two calls is ignored after 120 seconds.
  - A lock held by another owner and not expired refuses with who holds it, how old it is, when its run last
    showed it was alive, and how to get out. An expired lock is taken over and reported as stale.
  - The same owner takes over its own lock once that run is gone (it failed, or its heartbeat stopped for
    O(stale_after) seconds because the controller died), keeping the node it recorded, so a re-run resumes
    there. Every write refreshes the heartbeat; long waits of the other modules refresh it too.
author:
  - wsfc.rolling developers (@wsfc-rolling)
extends_documentation_fragment:
  - wsfc.rolling.winrm
attributes:
  check_mode:
    support: full
    description: Reads the lock and reports what would change; a lock that could not be taken fails the task the same way.
  diff_mode:
    support: full
    description: Shows the lock before and after.
options:
  state:
    description: V(present) takes (or updates) the lock, V(absent) releases it.
    type: str
    required: true
    choices: [present, absent]
  owner:
    description: Who runs (for example the AWX job template name). Required with O(state=present).
    type: str
  run_id:
    description: Identifier of this run. Required unless O(force=true).
    type: str
  ttl:
    description: Seconds until the lock expires unless updated again.
    type: int
    default: 7200
  node:
    description: With O(state=present) and the lock held, record this node as the one being worked on (V('') clears it).
    type: str
  status:
    description:
      - With O(state=present), mark the run V(running) or V(failed). The same owner may take over a lock
        whose run failed (a re-run resumes); a running lock is only taken over once it expired.
    type: str
    choices: [running, failed]
  out:
    description:
      - With O(state=present), the nodes this run has out at once (a run with C(max_nodes_out) above one). The runbook
        sets it when it takes the lock, to the nodes a run left out that it will finish first.
    type: list
    elements: str
  node_back:
    description:
      - With O(state=present) and the lock held by O(run_id), this node's cycle ended, so it leaves the nodes out at once
        (C(out)) and another may take its place. A write another task of the run overtook is made again on what that
        task wrote.
    type: str
  force:
    description: With O(state=absent), release a lock held by another run.
    type: bool
    default: false
  stale_after:
    description: Seconds without a heartbeat after which a running lock's run counts as gone.
    type: int
    default: 600
  takeover:
    description:
      - With O(state=present), take over a lock of another owner whose run is gone (no heartbeat for
        O(stale_after) seconds), keeping the node it recorded. A live run's lock is never taken.
    type: bool
    default: false
seealso:
  - module: wsfc.rolling.cluster_gate
'''

EXAMPLES = r'''
- name: Take the lock for this run
  wsfc.rolling.cluster_lock:
    state: present
    owner: "awx job {{ awx_job_id | default('cli') }}"
    run_id: "{{ rolling_run_id }}"
  delegate_to: localhost
'''

RETURN = r'''
lock:
  description: The lock after the task (null when released).
  returned: success
  type: dict
  sample: {owner: awx job 42, run_id: 20261122-0315, acquired: "2026-11-22T03:15:00Z", expires: "2026-11-22T05:15:00Z", node: HV-N2}
previous:
  description: The lock found before, with C(stale=true) when an expired lock of another owner was taken over.
  returned: success
  type: dict
round_trips:
  description: WinRM round trips made.
  returned: always
  type: int
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.wsfc.rolling.plugins.module_utils._argspec import winrm_argument_spec
from ansible_collections.wsfc.rolling.plugins.module_utils._cluster import lock
from ansible_collections.wsfc.rolling.plugins.module_utils._errors import InvalidOption
from ansible_collections.wsfc.rolling.plugins.module_utils._module import run_module, session_from_module


def _apply(module):
    p = module.params
    if p['state'] == 'present' and not (p['owner'] and p['run_id']):
        raise InvalidOption('owner and run_id are required with state=present')
    if p['state'] == 'absent' and not (p['run_id'] or p['force']):
        raise InvalidOption('run_id is required with state=absent (or force=true)')
    for name in ('ttl', 'stale_after'):
        if p[name] <= 0:
            raise InvalidOption('%s must be greater than 0, got %d' % (name, p[name]))
    with session_from_module(module) as session:
        current = lock.read(session)
        before = current[0]
        result = {'changed': False, 'lock': before, 'previous': before}
        fields = {}
        if p['node'] is not None:
            fields['node'] = p['node'] or None
        if p['status'] is not None:
            fields['status'] = p['status']
        if p['out'] is not None:
            fields['out'] = p['out']
        if p['node_back'] and p['state'] == 'present' and not module.check_mode:
            new, changed = lock.update(session, p['run_id'], p['ttl'], change=lock.out_without(p['node_back']), **fields)
            result.update(changed=changed, lock=new, diff={'before': before, 'after': new},
                          round_trips=session.round_trips)
            return result
        if module.check_mode:
            if p['state'] == 'absent':
                changes = before is not None
            else:
                if before is not None and before.get('run_id') != p['run_id']:
                    lock.check_takeable(before, current[2], p['owner'], p['stale_after'], p['takeover'])
                changes = (before is None or before.get('run_id') != p['run_id'] or
                           any(before.get(k) != v for k, v in fields.items()))
            result.update(changed=bool(changes), diff={'before': before, 'after': None if p['state'] == 'absent' else before})
        elif p['state'] == 'present':
            new, previous, changed = lock.acquire(session, p['owner'], p['run_id'], p['ttl'], current=current,
                                                  stale_after=p['stale_after'], takeover=p['takeover'], **fields)
            result.update(changed=changed, lock=new, previous=previous, diff={'before': before, 'after': new})
        else:
            previous, changed = lock.release(session, p['run_id'], p['force'], current=current)
            result.update(changed=changed, lock=None, previous=previous, diff={'before': before, 'after': None})
        result['round_trips'] = session.round_trips
    return result


def main():
    argument_spec = winrm_argument_spec()
    argument_spec.update(
        state=dict(type='str', required=True, choices=['present', 'absent']),
        owner=dict(type='str'),
        run_id=dict(type='str'),
        ttl=dict(type='int', default=7200),
        node=dict(type='str'),
        status=dict(type='str', choices=['running', 'failed']),
        out=dict(type='list', elements='str'),
        node_back=dict(type='str'),
        force=dict(type='bool', default=False),
        stale_after=dict(type='int', default=600),
        takeover=dict(type='bool', default=False),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    run_module(module, _apply)


if __name__ == '__main__':
    main()
