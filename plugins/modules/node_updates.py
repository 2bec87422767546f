#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, wsfc.rolling developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: node_updates
short_description: Install Windows updates on one cluster node, as a background task on the node
version_added: 0.1.0
description:
  - Searches for and installs the applicable Windows updates on the node O(winrm_host) points at.
  - The Windows Update Agent refuses to download and install from a remote session, so the work runs on
    the node as a scheduled task under SYSTEM. The module starts it, then polls its status file with short
    calls; a dropped WinRM connection does not lose the installation. Once finished and read, the task is
    unregistered; its status file stays in C(%ProgramData%\wsfc.rolling) as a record.
  - In check mode only the search runs and the applicable updates are returned.
  - With O(state=downloaded) the updates are only downloaded (pre-staging while the node still serves its workloads);
    a later installation takes them from the node's cache instead of downloading them again.
  - With O(serving=true) the updates are installed while the node still runs its workloads, leaving the restart for
    later (the runbooks' install-while-serving option). The module then installs nothing on a node where a restart is
    already pending or where an update must be installed by itself (Windows Update marks it
    C(RequiresExclusiveHandling)); it says why in RV(refused) and does not fail.
  - Restarts the node only when asked (O(restart=if_required)), gated like M(wsfc.rolling.node_reboot); it can then
    search and install again after the restart (O(passes)), all in one task. Otherwise see RV(reboot_required).
author:
  - wsfc.rolling developers (@wsfc-rolling)
extends_documentation_fragment:
  - wsfc.rolling.winrm
  - wsfc.rolling.winrm.LEFT_PAUSED
  - wsfc.rolling.winrm.WAIT
  - wsfc.rolling.winrm.NODE_ID
  - wsfc.rolling.winrm.HEARTBEAT
attributes:
  check_mode:
    support: full
    description: Searches only (through a scheduled task on the node); installs nothing.
  diff_mode:
    support: none
    description: The updates are returned instead.
options:
  state:
    description:
      - V(installed) installs the applicable updates. V(downloaded) only downloads them (nothing is installed, nothing
        restarts). There is no default.
    type: str
    required: true
    choices: [installed, downloaded]
  serving:
    description:
      - The node still serves its workloads (it is not drained). With O(state=installed), install only when it is safe
        to do so there and leave the restart for later; O(restart) must stay V(never). See RV(refused).
    type: bool
    default: false
  name:
    description: Cluster node name, used in messages (defaults to O(winrm_host)).
    type: str
  category_names:
    description:
      - Only updates of these classifications (for example V(Security Updates), V(Critical Updates)).
      - Optional updates (Windows Update's C(BrowseOnly), such as previews) are never installed unless their
        KB id is in O(accept_list).
    type: list
    elements: str
    default: [Critical Updates, Security Updates, Update Rollups]
  restart_pending:
    description:
      - What to do when the node already waits for a restart from an earlier installation (Windows Update then
        installs nothing more).
      - V(fail) stops with that reason and changes nothing. V(restart) restarts the node first (only when no other
        node is out and quorum keeps O(min_quorum_margin), as M(wsfc.rolling.node_reboot) does), then installs;
        use it on a drained node.
    type: str
    choices: [fail, restart]
    default: fail
  restart:
    description:
      - V(if_required) restarts the node after an install pass when Windows says it must (asked after the first pass
        always, after a later one only when it installed something), once every other node is Up and quorum keeps
        O(min_quorum_margin), and waits until the node is back in membership (bounded by O(reboot_timeout)). Use it
        on a drained node.
      - V(never) leaves the restart to the caller.
    type: str
    choices: [never, if_required]
    default: never
  passes:
    description:
      - With O(restart=if_required), how many search-and-install passes at most. Some updates are offered only once
        the first set is installed and the node restarted, so after a restart Windows Update is asked again; a pass
        without a restart, or one that found nothing, is the last.
    type: int
    default: 1
  await_restart:
    description:
      - The node is restarting already (a restart that an interrupted run started). First wait until it is back in
        membership (bounded by O(reboot_timeout)), restarting nothing.
    type: bool
    default: false
  reboot_timeout:
    description: Seconds to wait for each restart (O(restart), O(restart_pending=restart)) until the node is back.
    type: int
    default: 1800
  min_quorum_margin:
    description:
      - With O(restart=if_required) or O(restart_pending=restart), the quorum margin that must remain while the node restarts.
      - Default (also for a negative value) 1 with 4 or more votes, else 0.
    type: int
  max_nodes_out:
    description:
      - How many nodes the run may have out at once (M(wsfc.rolling.cluster_gate)'s O(wsfc.rolling.cluster_gate#module:max_nodes_out)).
        Above one, with O(lock_run_id), the gate before a restart reads the run lock (one more round trip) and accepts
        the other nodes the run has out (C(out)) in any state; quorum must keep its margin without all of them.
    type: int
    default: 1
  cluster_stopped:
    description:
      - The cluster is stopped on purpose (the offline update, M(wsfc.rolling.cluster_offline)) and the node's cluster
        service is disabled - a restart is not gated on the cluster (there is none to keep), and the node is back once
        it answers on a new boot with its cluster service still stopped (started by itself, it fails the task).
    type: bool
    default: false
  accept_list:
    description: Only these KB ids (for example V(KB5068791)). All when empty.
    type: list
    elements: str
    default: []
  reject_list:
    description: Never these KB ids.
    type: list
    elements: str
    default: []
  job_id:
    description: Identifier of the task on the node (letters, digits, dashes). Defaults to a new one per run.
    type: str
  wait_timeout:
    description: Seconds to wait for the search and installation.
    type: int
    default: 7200
seealso:
  - module: wsfc.rolling.node_reboot
  - module: wsfc.rolling.cau_scan
'''

EXAMPLES = r'''
- name: Install security and critical updates on HV-N2
  wsfc.rolling.node_updates:
    state: installed
    name: HV-N2
    winrm_host: hv-n2.contoso.com
    category_names: [Security Updates, Critical Updates]
    reject_list: [KB5034439]
  delegate_to: localhost
  register: updates

- name: Install, restart when needed and look again after each restart (at most three passes)
  wsfc.rolling.node_updates:
    state: installed
    name: HV-N2
    winrm_host: hv-n2.contoso.com
    restart: if_required
    passes: 3
  delegate_to: localhost

- name: Download the updates while the node serves, to install them later without the download
  wsfc.rolling.node_updates:
    state: downloaded
    name: HV-N2
    winrm_host: hv-n2.contoso.com
  delegate_to: localhost

- name: Search only
  wsfc.rolling.node_updates:
    state: installed
    winrm_host: hv-n2.contoso.com
  check_mode: true
  delegate_to: localhost
'''

RETURN = r'''
updates:
  description: Applicable updates found, with C(result) after installation.
  returned: success
  type: list
  elements: dict
  sample: [{kb: KB5068791, title: 2026-11 Cumulative Update ..., classification: Security Updates, result: Succeeded, hresult: 0}]
installed:
  description: Updates installed successfully.
  returned: success
  type: list
  elements: dict
downloaded:
  description: With O(state=downloaded), the updates downloaded to the node (also those it had downloaded already).
  returned: success
  type: list
  elements: dict
refused:
  description:
    - With O(serving=true), why nothing was installed while the node serves (a restart already pending, or updates that
      must be installed by itself); empty when the updates were installed.
  returned: success
  type: str
boot_time:
  description: The node's LastBootUpTime when the task started (a later one means it restarted since).
  returned: success
  type: str
failed_updates:
  description: Updates that failed, with C(result) and C(hresult).
  returned: always
  type: list
  elements: dict
reboot_required:
  description: Whether the node must restart to finish (also true when a restart was already pending).
  returned: success
  type: bool
rebooted:
  description: Whether the node was restarted after an install pass (O(restart=if_required)).
  returned: success
  type: bool
restarts:
  description: How many times it was restarted after an install pass.
  returned: success
  type: int
passes:
  description: Each search-and-install pass in order, with C(installed), C(failed_updates), C(reboot_required) and C(restarted).
  returned: success
  type: list
  elements: dict
restarted_first:
  description: Whether the node was restarted before installing, for a restart that was pending (O(restart_pending=restart)).
  returned: success
  type: bool
retryable:
  description:
    - On failure, whether running the task again may mend it (a failed or timed-out installation, a lost
      connection) or not (a restart refused by its gate, a node that did not come back).
  returned: failure
  type: bool
os_build_before:
  description: The build and update build revision (UBR) the node ran when the task first read it.
  returned: success
  type: str
  sample: '17763.6532'
os_build_after:
  description: The build and UBR the node ran when the task last read it (after its last restart, if any).
  returned: success
  type: str
  sample: '17763.6659'
round_trips:
  description: WinRM round trips made (polls included).
  returned: always
  type: int
'''

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.wsfc.rolling.plugins.module_utils._argspec import (
    check_wait_options, wait_argument_spec, winrm_argument_spec)
from ansible_collections.wsfc.rolling.plugins.module_utils._cluster import gates, lock, model, updates
from ansible_collections.wsfc.rolling.plugins.module_utils._errors import (
    CollectionError, InvalidOption, RemoteCommandError, UnsafeToProceed)
from ansible_collections.wsfc.rolling.plugins.module_utils._module import run_module, runner_from_module
from ansible_collections.wsfc.rolling.plugins.module_utils._winrm.runner import error_for_record


def _restart_if_required(runner, p, name, pass_number, summary):
    """After an install pass: restart the node when Windows says it must (asked after the first pass always, after a
    later one only when it installed something), gated like node_reboot. Returns the node's boot state once it is
    back, or None when it did not restart."""
    if pass_number > 1 and not summary['installed']:
        return None
    before = updates.boot_state(runner, name)
    if not before.get('RebootPending'):
        return None
    return _restart(runner, p, name, before)


def _together(runner, p, name):
    """With max_nodes_out above one: the other nodes the run lock of lock_run_id has out (one more round trip, which
    also checks that no VM runs on the node: with drains of other nodes at work, one could have landed on it)."""
    if p['max_nodes_out'] <= 1 or not p['lock_run_id']:
        return []
    read, groups = runner.invoke([('lock.read', {}), ('cluster.groups', {})])
    for result in (read, groups):
        if not result.ok:
            raise error_for_record('Failed to read the run lock and the roles before restarting %s' % name, result.error)
    running = sorted(g.name for g in (model.Group.from_ps(d) for d in groups.value or [])
                     if g.is_vm and g.state == 'Online' and g.owner_node.lower() == name.lower())
    if running:
        raise UnsafeToProceed('Not restarting %s: VMs run on it (%s), which a drain of another node moved there. The node '
                              'was left paused; run again to drain it again' % (name, ', '.join(running)))
    return gates.mates(lock.decode(read.value.get('Value')), p['lock_run_id'], name)


def _restart(runner, p, name, before):
    """The gated restart and the wait for the node's return. Its failures (refused, not back) are not the kind a
    new attempt of the task mends: they say so (``retryable`` false), where a failed installation does. Returns the
    node's boot state once it is back."""
    try:
        if not p['cluster_stopped']:
            updates.restart_gate(before, name, p['min_quorum_margin'], p['left_paused'], _together(runner, p, name))
        return updates.restart_and_wait(runner, name, p['reboot_timeout'], p['poll_interval'], before,
                                        cluster=not p['cluster_stopped'])[1]
    except CollectionError as exc:
        exc.details['retryable'] = False
        raise


def _install_pass(runner, p, job_id, mode, criteria, name, builds, boots):
    """One search-and-install job, waited for; a restart pending from before is done first when asked.
    Returns (job, whether a restart was pending when it started, whether it restarted first). Each build the node
    was seen running is appended to ``builds``, its boot time to ``boots``."""
    pending, job = updates.start_job(runner, job_id, mode, criteria)
    builds.append(job.get('OsBuild'))
    boots.append(job.get('BootTime'))
    job_id = job.get('Id') or job_id
    if not p['wait']:
        return job, pending, False
    job = updates.wait_job(runner, job_id, p['wait_timeout'], p['poll_interval'])
    if not (job.get('RestartPending') and p['restart_pending'] == 'restart'):
        return job, pending, False
    # Restart first (gated like node_reboot), then install with a new job.
    _restart(runner, p, name, updates.boot_state(runner, name))
    job_id = '%s-r' % job_id[:62]
    _pending, job = updates.start_job(runner, job_id, mode, criteria)
    builds.append(job.get('OsBuild'))
    return updates.wait_job(runner, job.get('Id') or job_id, p['wait_timeout'], p['poll_interval']), pending, True


def _apply(module):
    p = module.params
    check_wait_options(p)
    if p['passes'] < 1:
        raise InvalidOption('passes must be at least 1, got %d' % p['passes'])
    if p['passes'] > 1 and p['restart'] != 'if_required':
        raise InvalidOption('passes=%d searches again only after a restart: it needs restart=if_required' % p['passes'])
    if (p['serving'] or p['state'] == 'downloaded') and (p['restart'] != 'never' or p['restart_pending'] != 'fail'):
        raise InvalidOption('%s leaves the node serving: restart and restart_pending must stay never and fail, got %s '
                            'and %s' % ('serving=true' if p['serving'] else 'state=downloaded', p['restart'],
                                        p['restart_pending']))
    criteria = dict(updates.validate_criteria(p['category_names'], p['accept_list'], p['reject_list']),
                    serving=p['serving'])
    if module.check_mode:
        mode = 'scan'
    else:
        mode = 'download' if p['state'] == 'downloaded' else 'install'
    job_id = p['job_id'] or 'wsfc-%s-%d' % (mode, int(time.time() * 1000))
    name = p['name'] or p['winrm_host']
    restarts = restarted_first = 0
    passes, builds, boots = [], [], []
    with runner_from_module(module, node=p['name']) as runner:
        if p['await_restart']:
            try:
                updates.wait_back(runner, name, p['reboot_timeout'], p['poll_interval'], cluster=not p['cluster_stopped'])
            except CollectionError as exc:
                exc.details['retryable'] = False
                raise
        # Some updates are offered only once the first set is installed and the node restarted (CAU's scan
        # "returns only the first set of updates"): after a restart, search and install again, up to passes.
        for number in range(1, p['passes'] + 1):
            pass_id = job_id if number == 1 else '%s-p%d' % (job_id[:60], number)
            job, pending, first = _install_pass(runner, p, pass_id, mode, criteria, name, builds, boots)
            restarted_first += first
            summary = updates.summarize(job)
            summary['reboot_required'] = summary['reboot_required'] or (pending and not first)
            passes.append(dict(summary, restarted=False))
            if job.get('RestartPending') or job.get('Phase') != 'Completed' or not p['wait'] or module.check_mode:
                break
            back = _restart_if_required(runner, p, name, number, summary) if p['restart'] == 'if_required' else None
            if back is None:
                break
            builds.append(updates.os_build(back))
            restarts += 1
            passes[-1].update(restarted=True, reboot_required=False)
        summary = dict(passes[-1], updates=[u for s in passes for u in s['updates']],
                       installed=[u for s in passes for u in s['installed']],
                       failed_updates=[u for s in passes for u in s['failed_updates']])
        refused = updates.serving_refusal(job) if p['serving'] else ''
        downloaded = summary['installed'] if mode == 'download' else []
        if mode == 'download':
            summary['installed'] = []
        changed = (bool(summary['installed']) or bool(restarts or restarted_first) or (module.check_mode and bool(summary['updates']))
                   or any(not u.get('downloaded_before') for u in downloaded))
        result = dict(summary, changed=changed, downloaded=downloaded, refused=refused, boot_time=boots[0] if boots else None,
                      restarted_first=bool(restarted_first), rebooted=bool(restarts), restarts=restarts, passes=passes,
                      round_trips=runner.round_trips, polls=runner.polls,
                      os_build_before=next((b for b in builds if b), None), os_build_after=next((b for b in reversed(builds) if b), None),
                      finished=job.get('Phase') in ('Completed', 'Failed'))
    if refused:
        return result
    if job.get('RestartPending'):
        raise UnsafeToProceed('Windows Update on %s installed nothing: a restart from an earlier installation is still '
                              'pending there. Restart the node first (wsfc.rolling.node_reboot), or set '
                              'restart_pending=restart' % name, details=result)
    if job.get('Phase') == 'Failed':
        raise RemoteCommandError(updates.failure_message(name, job, passes[-1]), details=result)
    return result


def main():
    argument_spec = winrm_argument_spec()
    argument_spec.update(wait_argument_spec(7200))
    argument_spec.update(
        state=dict(type='str', required=True, choices=['installed', 'downloaded']),
        serving=dict(type='bool', default=False),
        node_id=dict(type='str'),
        name=dict(type='str'),
        category_names=dict(type='list', elements='str', default=list(updates.DEFAULT_CLASSIFICATIONS)),
        restart_pending=dict(type='str', choices=['fail', 'restart'], default='fail'),
        restart=dict(type='str', choices=['never', 'if_required'], default='never'),
        passes=dict(type='int', default=1, no_log=False),
        reboot_timeout=dict(type='int', default=1800),
        await_restart=dict(type='bool', default=False),
        min_quorum_margin=dict(type='int'),
        left_paused=dict(type='list', elements='str', default=[]),
        max_nodes_out=dict(type='int', default=1),
        cluster_stopped=dict(type='bool', default=False),
        accept_list=dict(type='list', elements='str', default=[]),
        reject_list=dict(type='list', elements='str', default=[]),
        job_id=dict(type='str'),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    run_module(module, _apply)


if __name__ == '__main__':
    main()
