# -*- coding: utf-8 -*-
# Copyright: (c) 2026, wsfc.rolling developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Windows Update on one node (a scheduled task there, polled) and restart-and-wait."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.wsfc.rolling.plugins.module_utils._cluster import gates, model
from ansible_collections.wsfc.rolling.plugins.module_utils._cluster import lock as run_lock
from ansible_collections.wsfc.rolling.plugins.module_utils._errors import (
    ConnectionFailure, InvalidOption, RemoteCommandError, TimeoutFailure, UnsafeToProceed)
from ansible_collections.wsfc.rolling.plugins.module_utils._wait import wait_until
from ansible_collections.wsfc.rolling.plugins.module_utils._winrm import _powershell
from ansible_collections.wsfc.rolling.plugins.module_utils._winrm.runner import error_for_record

JOB_ID = re.compile(r'^[A-Za-z0-9-]{1,64}$')
KB = re.compile(r'^KB\d{4,8}$', re.I)
# Windows Update classifications as the Windows Update Agent names its categories (the Microsoft
# Update catalog's "Classification" values), matched by name; a category GUID is taken as it is.
CLASSIFICATIONS = ('Critical Updates', 'Security Updates', 'Definition Updates', 'Drivers', 'Feature Packs',
                   'Service Packs', 'Tools', 'Update Rollups', 'Updates', 'Upgrades')
# What is installed when no classification is named: the important updates, as Windows Update and
# ansible.windows' win_updates choose by default. Optional (BrowseOnly) updates are installed only
# when named in the accept list.
DEFAULT_CLASSIFICATIONS = ('Critical Updates', 'Security Updates', 'Update Rollups')
GUID = re.compile(r'^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$', re.I)


def unknown_classifications(names):
    """The names that are neither a known classification nor a category GUID."""
    return [c for c in names or [] if c not in CLASSIFICATIONS and not GUID.match(str(c))]


UNREACHABLE = (ConnectionFailure, TimeoutFailure)


def validate_criteria(categories, accept, reject):
    unknown = unknown_classifications(categories)
    if unknown:
        # A filter that matches nothing would make every node look compliant.
        raise InvalidOption('category_names has names that are no Windows Update classification: %s (known: %s, or a '
                            'category GUID)' % (', '.join(repr(c) for c in unknown), ', '.join(CLASSIFICATIONS)))
    for kb in list(accept or []) + list(reject or []):
        if not KB.match(str(kb)):
            raise InvalidOption('%r is not a KB article id like KB5068791' % (kb,))
    overlap = set(k.upper() for k in accept or []) & set(k.upper() for k in reject or [])
    if overlap:
        raise InvalidOption('KB ids both accepted and rejected: %s' % ', '.join(sorted(overlap)))
    return {'categories': list(categories or []), 'accept': [k.upper() for k in accept or []],
            'reject': [k.upper() for k in reject or []]}


def start_job(runner, job_id, mode, criteria):
    """Start (or find, if it already runs) the Windows Update task ``job_id`` on the node.

    Returns:
        (whether a restart was already pending, the job's status), read in the same round trip. The
        job's ``Id`` is another one when a running install was adopted; its ``OsBuild`` is os_build().
    """
    if not JOB_ID.match(job_id or ''):
        raise InvalidOption('job id must be 1-64 letters, digits or dashes, got %r' % (job_id,))
    # An install adopts one of ours that is still running on the node (a run whose controller died):
    # Windows Update runs one installation at a time, and a second would only wait or fail.
    params = dict(criteria, id=job_id, mode=mode, task_script=_powershell.WINDOWS_UPDATE_TASK, adopt=mode == 'install')
    boot, job = runner.invoke([('node.boot', {}), ('wu.start', params)])
    for result in (boot, job):
        if not result.ok:
            raise error_for_record("Failed to start Windows Update on '%s'" % runner.options.host, result.error)
    return bool(boot.value.get('RebootPending')), dict(job.value, OsBuild=os_build(boot.value),
                                                       BootTime=boot.value.get('LastBootUpTime'))


def os_build(boot):
    """'17763.6532': the build and update build revision (UBR) a node.boot read found, or None."""
    return '%s.%s' % (boot['BuildNumber'], boot.get('UBR') or 0) if (boot or {}).get('BuildNumber') else None


# LastTaskResult values of a task that has not ended: SCHED_S_TASK_HAS_NOT_RUN, SCHED_S_TASK_RUNNING.
TASK_NOT_ENDED = (0x41303, 0x41301)


def task_failure(job):
    """Why the job's task ended without writing its status, or None while that is not known.

    A task that fails before its script runs (an execution policy set by Group Policy, no "Log on
    as a batch job" right) writes nothing: only Task Scheduler's LastTaskResult tells.
    """
    if job.get('Phase') != 'Starting' or 'Task' not in job:
        return None
    task = job.get('Task')
    if task is None:
        return 'its scheduled task is gone and it never wrote a status'
    result = task.get('LastTaskResult')
    if task.get('State') == 'Ready' and task.get('LastRunTime') and result not in TASK_NOT_ENDED:
        return ('its scheduled task ended with result 0x%08X without writing a status (see the '
                'Microsoft-Windows-TaskScheduler/Operational log on the node; an execution policy set by Group Policy or '
                "a missing 'Log on as a batch job' right for SYSTEM are common causes)" % ((result or 0) & 0xFFFFFFFF))
    return None


def wait_job(runner, job_id, timeout, interval):
    """Poll the task's status file until it finished (the poll that sees it finished also removes
    its scheduled task); WinRM drops while polling are waited out, a task that died is reported."""
    def poll():
        try:
            job = runner.call('wu.status', {'id': job_id, 'remove': True}, poll=True,
                              action="Failed to read Windows Update job %s on '%s'" % (job_id, runner.options.host))
        except UNREACHABLE as exc:
            return {'Phase': 'Unknown', 'Progress': None, 'unreachable': str(exc)}
        why = task_failure(job)
        if why:
            raise RemoteCommandError('Windows Update job %s on %s failed: %s' % (job_id, runner.options.host, why),
                                     details={'job': job})
        return job

    def describe(job):
        if job.get('unreachable'):
            return 'Windows Update on %s: node not answering (%s)' % (runner.options.host, job['unreachable'])
        return 'Windows Update on %s still %s (%s%%)' % (runner.options.host, job.get('Phase'), job.get('Progress'))

    return wait_until(poll, timeout, interval=interval, describe=describe,
                      done=lambda job: job.get('Phase') in ('Completed', 'Failed'))


def summarize(job):
    updates = job.get('Updates') or []
    installed = [u for u in updates if u.get('ResultCode') in ('Succeeded', 'SucceededWithErrors')]
    failed = [u for u in updates if u.get('ResultCode') in ('Failed', 'Aborted')]
    return {
        'updates': [_plain(u) for u in updates],
        'installed': [_plain(u) for u in installed],
        'failed_updates': [_plain(u) for u in failed],
        'reboot_required': bool(job.get('RebootRequired')),
        'job_id': job.get('Id'),
    }


def _plain(u):
    return {'kb': u.get('KB'), 'title': u.get('Title'), 'classification': u.get('Classification'),
            'size_mb': u.get('SizeMB'), 'reboot_required': u.get('RebootRequired'),
            'exclusive': bool(u.get('Exclusive')), 'downloaded_before': bool(u.get('Downloaded')),
            'result': u.get('ResultCode'), 'hresult': u.get('HResult')}


def serving_refusal(job):
    """Why an installation asked of a node that serves its workloads (install while serving) installed nothing, or
    ''. A restart already pending (from another installation: Windows Update installs nothing more until it) and
    updates Windows Update marks to be installed by themselves (InstallationBehavior.Impact RequiresExclusiveHandling)
    are left to the node's own cycle, drained."""
    exclusive = [u.get('KB') for u in job.get('Updates') or [] if u.get('Exclusive')]
    if exclusive and job.get('Phase') == 'Failed':
        return 'not installed while serving: %s must be installed by itself (RequiresExclusiveHandling)' % ', '.join(exclusive)
    if job.get('RestartPending'):
        return 'not installed while serving: a restart from an earlier installation is pending on the node'
    return ''


def failure_message(node, job, summary):
    if job.get('Error'):
        return 'Windows Update failed on %s: %s' % (node, job['Error'])
    return 'Windows Update failed on %s: %s' % (node, ', '.join(
        '%s (%s, 0x%08X)' % (u['kb'], u['result'], (u['hresult'] or 0) & 0xFFFFFFFF) for u in summary['failed_updates']))


# -- restart -----------------------------------------------------------------------------------

def boot_state(runner, name, poll=False, extra=()):
    """Boot facts and, when the cluster service answers, the node's cluster state, every member and
    the quorum (one round trip): what the gate before a restart needs comes along for free.

    ``Members`` (model.Node list) and ``Quorum`` (model.Quorum) are None when the cluster service
    does not answer on the node. ``extra`` calls ride along in the same round trip; their values
    (None for a failed one) are in ``extra``.
    """
    results = runner.invoke([('node.boot', {}), ('cluster.nodes', {}), ('cluster.quorum', {})] + list(extra), poll=poll)
    boot, nodes, quorum = results[:3]
    if not boot.ok:
        raise RemoteCommandError('Failed to read boot state of %s: %s' % (name, boot.error.get('message')),
                                 records=[boot.error])
    state = dict(boot.value)
    members = [model.Node.from_ps(d) for d in nodes.value or []] if nodes.ok else None
    mine = [n for n in members or [] if n.name.lower() == name.lower()]
    state['ClusterState'] = mine[0].state if mine else None
    state['Members'] = members
    state['Quorum'] = model.Quorum.from_ps(quorum.value) if quorum.ok and quorum.value else None
    if extra:
        state['extra'] = [r.value if r.ok else None for r in results[3:]]
    return state


def restart_gate(state, name, min_quorum_margin=None, left_paused=(), together=()):
    """Refuse the restart of ``name`` when another node is not Up (other than those ``together`` with it for the
    run) or quorum would lose its margin.

    Raises:
        UnsafeToProceed: naming the failed conditions; the node is left as it is.
    """
    if state.get('Members') is None or state.get('Quorum') is None:
        raise UnsafeToProceed('Not restarting %s: the cluster service on it does not answer, so the cluster-wide '
                              'conditions cannot be checked' % name)
    failed = [c for c in gates.membership_checks(state['Members'], state['Quorum'], name, min_quorum_margin, left_paused,
                                                 together) if not c.ok]
    if failed:
        raise UnsafeToProceed('Not restarting %s now: %s. The node was left as it is (%s); restart it once the '
                              'cluster is whole again (run the playbook again)' % (
                                  name, '; '.join('%s: %s' % (c.name, c.detail) for c in failed), state.get('ClusterState')),
                              details={'checks': [c.to_dict() for c in failed]})


def restart_and_wait(runner, name, timeout, interval, before=None, cluster=True):
    """Restart the node and wait until it is really back.

    Back means: a new boot time, WinRM answering, the cluster service running, and the node back in
    membership (Paused if it was paused: the pause survives the reboot, Up otherwise).

    Args:
        before: the boot state already read (saves a round trip).

    Returns:
        (state before, state after)
    """
    before = before or boot_state(runner, name)
    try:
        runner.call('node.restart', action='Failed to restart %s' % name)
    except UNREACHABLE:
        # The answer was lost: the node may be going down already (it stops answering seconds after the
        # request). The wait below tells, by the boot time, whether it restarted.
        pass
    runner.close()
    return before, wait_back(runner, name, timeout, interval, before['LastBootUpTime'], cluster)


# A restart moves LastBootUpTime forward by the whole uptime before it; without one the value still
# moves by milliseconds (Windows derives it from the uptime counter: windows_exporter#74,
# elastic/beats#12591). So equality of the two strings says nothing either way.
REBOOT_MIN_SHIFT = 60
REBOOT_MIN_SHIFT_AFTER_SILENCE = 5


def restarted_since(previous_boot, boot_time, was_unreachable=False):
    """Whether a node whose boot time was ``previous_boot`` restarted since, now that it reports
    ``boot_time``: the boot time moved forward by more than a minute, or it moved by more than a few
    seconds and the node did not answer for a while in between. Unknown before: True."""
    if not previous_boot:
        return True
    try:
        shift = (run_lock.parse_time(boot_time) - run_lock.parse_time(previous_boot)).total_seconds()
    except ValueError:
        return False
    return shift > REBOOT_MIN_SHIFT or (was_unreachable and abs(shift) > REBOOT_MIN_SHIFT_AFTER_SILENCE)


def wait_back(runner, name, timeout, interval, previous_boot=None, cluster=True):
    """Wait until the node answers, runs the cluster service and is in membership (Paused or Up);
    with ``previous_boot``, also until it did restart (``restarted_since``). Without ``cluster`` (the cluster
    is stopped for an offline update), back is answering on a new boot with the cluster service stopped: one that
    started by itself fails the wait at once."""
    seen = {'unreachable': False}

    def poll():
        try:
            return boot_state(runner, name, poll=True)
        except UNREACHABLE as exc:
            seen['unreachable'] = True
            return {'unreachable': str(exc)}

    def restarted(state):
        return previous_boot is None or restarted_since(previous_boot, state.get('LastBootUpTime'), seen['unreachable'])

    def back(state):
        if not cluster and not state.get('unreachable') and restarted(state):
            if state.get('ClusterService') == 'Running':
                raise UnsafeToProceed('%s came back with its cluster service running although the cluster is stopped for '
                                      'the offline update: set its start mode to Disabled (the offline update does) '
                                      'before restarting it' % name)
            return True
        return (not state.get('unreachable') and restarted(state) and
                state.get('ClusterService') == 'Running' and state.get('ClusterState') in ('Paused', 'Up'))

    def describe(state):
        if state.get('unreachable'):
            return '%s not back: WinRM does not answer (%s)' % (name, state['unreachable'])
        if not restarted(state):
            return '%s has not restarted yet (boot time still %s)' % (name, state.get('LastBootUpTime'))
        return '%s restarted at %s but cluster service %s, cluster state %s' % (
            name, state.get('LastBootUpTime'), state.get('ClusterService'), state.get('ClusterState'))

    return wait_until(poll, timeout, interval=interval, describe=describe, done=back)
