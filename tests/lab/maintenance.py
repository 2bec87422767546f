"""Node maintenance as Windows does it: drain and resume with failback, role moves (live or quick
migration), Windows Update jobs, restarts, and Storage Spaces Direct repair after a node returns.

Sources per behaviour are in docs/lab-fidelity.md (docs/windows-behaviour.md sections cited inline).
All functions run with ``lab.lock`` held (the op layer takes it).
"""

import itertools

from . import availability
from .model import CmdletError, StorageJob

# winerror.h codes and texts (windows-behaviour.md §3).
ERROR_CLUSTER_NODE_DOWN = 5050
ERROR_CLUSTER_NODE_EVACUATION_IN_PROGRESS = 5962
ERROR_CLUSTER_SPACE_DEGRADED = 5987
MSG_SPACE_DEGRADED = ('A clustered space is in a degraded condition and the requested action cannot be completed '
                      'at this time.')


def _node_error(command, message, native_code, category='InvalidOperation', target='', reason=None):
    # FQID reason names for these refusals are UNVERIFIED; the native Win32 code is what callers match.
    return CmdletError(message, '%s,Microsoft.FailoverClusters.PowerShell.%sCommand' % (reason or command, command.replace('-', '')),
                       category, target=target, native_code=native_code)


def node_not_found(lab, name, command):
    return CmdletError('The cluster node was not found.',
                       'ClusterObjectNotFound,Microsoft.FailoverClusters.PowerShell.%sCommand' % command.replace('-', ''),
                       'ObjectNotFound', target=name, native_code=5042)


def storage_busy(lab, node=None):
    """True while a storage job runs or a virtual disk is not Healthy (windows-behaviour.md §8).

    A drain asked again of ``node`` while it is already paused (after a drain that failed) takes no further
    copy offline: the spaces its own pause degraded do not count (UNVERIFIED; the refusal is documented for
    taking another server out)."""
    if any(j.job_state not in ENDED for j in lab.storage_jobs):
        return True
    if not any(d.health != 0 for d in lab.virtual_disks):
        return False
    if node is not None and lab.s2d_enabled and node.state == 'Paused':
        return bool([n for n in availability.missing_fault_domains(lab) if n != node.name])
    return True


# -- capacity and placement ------------------------------------------------------------------

def free_memory_mb(lab, node):
    # A migrating VM holds memory on both hosts until it arrives (conservative).
    used = sum(g.memory_mb for g in lab.groups.values()
               if g.group_type == 'VirtualMachine' and node.name in (g.owner, g.move_target))
    return node.memory_mb - node.host_reserve_mb - used


def choose_target(lab, group, source):
    """Preferred owners first (in order), then the Up node with the most free memory; None if none fits."""
    candidates = [n for n in lab.nodes.values() if n.name != source and n.state == 'Up']
    need = group.memory_mb if group.group_type == 'VirtualMachine' else 0
    by_name = dict((n.name, n) for n in candidates)
    for name in group.preferred_owners:
        node = by_name.get(name)
        if node is not None and free_memory_mb(lab, node) >= need:
            return node
    fitting = [n for n in candidates if free_memory_mb(lab, n) >= need]
    if not fitting:
        return None
    return max(fitting, key=lambda n: (free_memory_mb(lab, n), -int(n.id)))


# -- the migration network -------------------------------------------------------------------

def network(lab):
    if lab.network is None:
        lab.network = MigrationNetwork(lab)
    return lab.network


class MigrationNetwork:
    """The live migrations in flight, across the cluster. Each host has one migration link of
    ``live_migration_gbps``; simultaneous migrations share it (windows-behaviour.md §5): a migration goes at the
    link's bandwidth divided by the migrations in or out of the busier of its two hosts. Two drains at once
    therefore do not each get a free network, and a node receiving from two others halves both."""

    def __init__(self, lab):
        self.lab = lab
        self.flows = {}          # flow number -> [bytes left, source, target, on arrival]
        self.time = lab.clock.now()
        self.gen = 0
        self.numbers = itertools.count(1)

    def _rate(self, flow):
        load = max(sum(1 for f in self.flows.values() if flow[1] in (f[1], f[2])),
                   sum(1 for f in self.flows.values() if flow[2] in (f[1], f[2])))
        return self.lab.timings['live_migration_gbps'] * 1e9 / 8 / max(1, load)

    def _advance(self):
        now = self.lab.clock.now()
        rates = [(flow, self._rate(flow)) for flow in self.flows.values()]
        for flow, rate in rates:
            flow[0] = max(0.0, flow[0] - rate * (now - self.time))
        self.time = now

    def _schedule(self):
        self.gen += 1
        if not self.flows:
            return
        gen = self.gen
        soonest = min(flow[0] / self._rate(flow) for flow in self.flows.values())
        self.lab.clock.after(soonest, lambda: self._due(gen))

    def _due(self, gen):
        if gen != self.gen:
            return
        self._advance()
        done = [name for name, flow in self.flows.items() if flow[0] <= 1.0]
        arrivals = [self.flows.pop(name)[3] for name in done]
        self._schedule()
        for arrive in arrivals:
            arrive()

    def add(self, size, source, target, arrive):
        self._advance()
        self.flows[next(self.numbers)] = [size, source, target, arrive]
        self._schedule()


# -- the move engine (drain and failback) -------------------------------------------------------

class MoveOperation:
    """Moves a set of groups the way a drain (or a failback) does.

    VMs below ``MoveTypeThreshold`` are quick-migrated, all at once, in parallel with the rest
    (windows-behaviour.md, drain); the others move in priority bands, High first, with at most
    ``lab.parallel_migrations()`` moves at once. Live migrations share the migration network with every other
    one in flight (``MigrationNetwork``). With ``target`` (Suspend-ClusterNode -TargetNode) every role goes to
    that node; one that does not fit there fails to move.
    """

    def __init__(self, lab, kind, node, groups, force=False, on_done=None, target=None):
        self.lab, self.kind, self.node, self.force, self.on_done = lab, kind, node, force, on_done
        self.target = target
        quick = [g for g in groups if g.group_type == 'VirtualMachine' and g.priority < lab.move_type_threshold]
        bands = {}
        for g in groups:
            if g not in quick:
                bands.setdefault(g.priority, []).append(g)
        self.quick = quick
        self.bands = [bands[p] for p in sorted(bands, reverse=True)]
        self.pending, self.active, self.quick_active = [], 0, 0
        self.failed, self.moved, self.forced = [], [], []
        self.started = lab.clock.now()
        self.cancelled = False
        self.finished = False

    def start(self):
        for group in self.quick:
            self.quick_active += 1
            self._move(group, quick=True)
        self.quick = []
        self._next_band()

    def _next_band(self):
        if self.cancelled:
            return
        if not self.bands:
            self._maybe_done()
            return
        self.pending = list(self.bands.pop(0))
        self._pump()

    def _maybe_done(self):
        if not self.finished and not self.bands and not self.pending and self.active == 0 and self.quick_active == 0:
            self.finished = True
            self.on_done(self)

    def _pump(self):
        limit = self.lab.parallel_migrations()
        while self.pending and self.active < limit and not self.cancelled:
            self.active += 1
            self._move(self.pending.pop(0))
        if self.active == 0 and not self.pending:
            self._next_band()

    def _done_one(self, quick=False):
        if quick:
            self.quick_active -= 1
            self._maybe_done()
            return
        self.active -= 1
        self._pump()

    def _live(self, group, target):
        """Copy the VM's memory (and what it dirties meanwhile) over the migration network, then arrive."""
        t = self.lab.timings
        size = group.memory_mb / 1024.0 * 1e9 * t['live_migration_overhead']
        source = group.owner
        self.lab.clock.after(self.lab.vary(t['live_migration_setup_seconds']), lambda: network(self.lab).add(
            size, source, target.name, lambda: self._arrive(group, target, 'live_migrated')))

    def _move(self, group, quick=False):
        lab, t = self.lab, self.lab.timings
        if group.moving and not self.cancelled:
            # Another operation is moving it (a failback while the next node drains): a group takes one move at a
            # time, so this one waits for that move to end (UNVERIFIED: how the cluster holds the second request).
            lab.clock.after(1.0, lambda: self._move(group, quick))
            return
        if (group.owner == self.node.name) != (self.kind == 'drain'):
            # That other move already took it off the draining node, or home: nothing left to do.
            lab.clock.after(0, lambda: self._done_one(quick))
            return
        source = group.owner
        if self.kind == 'failback':
            home = lab.node(group.drained_from or '')
            target = home if home is not None and home.state == 'Up' else None
        elif self.target is not None:
            fits = free_memory_mb(lab, self.target) >= (group.memory_mb if group.group_type == 'VirtualMachine' else 0)
            target = self.target if fits and self.target.state == 'Up' else None
        else:
            target = choose_target(lab, group, source)
        if target is None:
            self.failed.append(group.name)
            lab.recorder.record('group.move_failed', group=group.name, source=source, reason='no possible owner with room')
            lab.clock.after(0, lambda: self._done_one(quick))
            return
        if group.group_type != 'VirtualMachine':
            group.moving, group.move_target = True, target.name
            lab.clock.after(t['group_move_seconds'], lambda: self._arrive(group, target, 'moved'))
            return
        if quick:
            # Quick migration: saved state, moved, resumed; clients are disconnected meanwhile (DRAINBLOG).
            group.moving, group.move_target = True, target.name
            _go_offline(lab, group, 'Offline')
            lab.recorder.record('vm.quick_migration_started', group=group.name, source=source, target=target.name)
            lab.clock.after(lab.vary(t['quick_migration_seconds']),
                            lambda: self._arrive(group, target, 'quick_migrated', quick=True))
            return
        if not group.live_migratable or (lab.weather is not None and lab.weather.migration_fails(group.name)):
            # The live migration fails; without -ForceDrain the role stays where it is and the drain
            # ends Failed. With -ForceDrain it is stopped and moved as a failed role (windows-behaviour.md §5).
            if self.force:
                self.forced.append(group.name)
                _go_offline(lab, group, 'Failed')
                group.moving, group.move_target = True, target.name
                lab.clock.after(t['group_move_seconds'], lambda: self._arrive(group, target, 'forced', state='Failed'))
            else:
                def fail():
                    group.migration_state = 5
                    self.failed.append(group.name)
                    lab.recorder.record('vm.live_migration_failed', group=group.name, source=source, target=target.name)
                    self._done_one()
                lab.clock.after(t['group_move_seconds'], fail)
            return
        group.moving, group.move_target, group.migration_state = True, target.name, 2
        lab.recorder.record('vm.live_migration_started', group=group.name, source=source, target=target.name)
        self._live(group, target)

    def _arrive(self, group, target, how, state=None, quick=False):
        """The move ends. The group keeps its state (an offline group moves offline), except that a
        VM saved by a quick migration is resumed and a force-moved role arrives ``state``."""
        lab = self.lab
        source = group.owner
        group.moving, group.move_target = False, None
        group.migration_state = 5 if target.state not in ('Up', 'Paused') else 0
        if target.state not in ('Up', 'Paused'):
            # The target left membership meanwhile: the move fails and the role stays on the source.
            self.failed.append(group.name)
            lab.recorder.record('group.move_failed', group=group.name, source=source, reason='target left')
        else:
            group.owner = target.name
            group.drained_from = self.node.name if self.kind == 'drain' else None
            if state is not None:
                group.state = state
            elif how == 'quick_migrated':
                _go_online(lab, group)
            self.moved.append(group.name)
            lab.recorder.record('group.' + how, group=group.name, source=source, target=target.name, op=self.kind)
        self._done_one(quick)


def _go_offline(lab, group, state):
    group.state = state
    if group.offline_since is None:
        group.offline_since = lab.clock.now()
    lab.recorder.record('group.offline', group=group.name, state=state)


def _go_online(lab, group):
    group.state = 'Online'
    if group.offline_since is not None:
        down = lab.clock.now() - group.offline_since
        group.downtime += down
        group.offline_since = None
        lab.recorder.record('group.online', group=group.name, downtime=round(down, 3))


# -- Suspend-ClusterNode / Resume-ClusterNode ----------------------------------------------------

ERROR_INVALID_TARGET_HANDLE = 114
ERROR_HOST_NODE_NOT_AVAILABLE = 5005


def drain_target(lab, node, target):
    """Suspend-ClusterNode -TargetNode: the node to drain to. The node itself is an invalid target, a node
    that is not Up is not available ([MS-CMRP] ApiPauseNodeWithDrainTarget; the cmdlet's wording is
    UNVERIFIED)."""
    other = lab.node(target)
    if other is None:
        raise node_not_found(lab, target, 'Suspend-ClusterNode')
    if other is node:
        raise _node_error('Suspend-ClusterNode', 'The target node is the node being drained.',
                          ERROR_INVALID_TARGET_HANDLE, category='InvalidArgument', target=target)
    if other.state != 'Up':
        raise _node_error('Suspend-ClusterNode', 'The cluster node is not available for this operation.',
                          ERROR_HOST_NODE_NOT_AVAILABLE, target=target)
    return other


def suspend(lab, name, drain=True, force_drain=False, target=None):
    """Suspend-ClusterNode [-Drain] [-ForceDrain] [-TargetNode], returning at once as without -Wait
    (windows-behaviour.md §5)."""
    node = lab.node(name)
    if node is None:
        raise node_not_found(lab, name, 'Suspend-ClusterNode')
    to = drain_target(lab, node, target) if drain and target else None
    if drain:
        busy = storage_busy(lab, node)
        lab.recorder.record('node.suspend_requested', node=node.name, drain=True, storage_busy=busy)
        if busy:
            lab.recorder.violation('drain_while_storage_busy', node=node.name)
    if node.state == 'Down':
        raise _node_error('Suspend-ClusterNode', 'The cluster node is down.', ERROR_CLUSTER_NODE_DOWN, target=node.name)
    if drain and not [n for n in lab.nodes.values() if n is not node and n.state == 'Up']:
        raise _node_error('Suspend-ClusterNode', 'The cluster node is down.', ERROR_CLUSTER_NODE_DOWN, target=node.name)
    if node.draining:
        raise _node_error('Suspend-ClusterNode', 'A drain of this node is already in progress.',
                          ERROR_CLUSTER_NODE_EVACUATION_IN_PROGRESS, target=node.name)
    if drain and lab.s2d_enabled and storage_busy(lab, node):
        raise _node_error('Suspend-ClusterNode', MSG_SPACE_DEGRADED, ERROR_CLUSTER_SPACE_DEGRADED, target=node.name)
    if node.in_service and availability.volumes_lost(lab, extra=(node.name,)):
        # Without -Drain too, pausing an S2D node puts its drives in storage maintenance mode, which is
        # refused when a virtual disk would lose its last current copy (Enable-StorageMaintenanceMode;
        # the error the cmdlet returns then is UNVERIFIED: the lab uses the degraded-space refusal).
        raise _node_error('Suspend-ClusterNode', MSG_SPACE_DEGRADED, ERROR_CLUSTER_SPACE_DEGRADED, target=node.name)
    was_up = node.member_state == 'Up'
    node.member_state = 'Paused'
    if was_up:
        lab.recorder.record('node.paused', node=node.name, drain=drain)
        _leave_service(lab, node)
    if not drain:
        return node
    # Fault drain_completes_leaving {node: role}: the drain ends Completed without moving that role (the
    # collection must not take DrainStatus alone for an empty node).
    left = (lab.faults.get('drain_completes_leaving') or {}).get(node.name)
    groups = [g for g in lab.groups.values() if g.owner == node.name and g.name != left]
    node.drain_status = 'InProgress'
    node.draining = True
    lab.recorder.activity_start(node.name, 'drain')

    def done(op):
        node.draining = False
        node.drain_status = 'Failed' if op.failed else 'Completed'
        lab.recorder.activity_end(node.name, 'drain')
        lab.recorder.record('node.drain_' + node.drain_status.lower(), node=node.name, moved=len(op.moved),
                            failed=list(op.failed), forced=list(op.forced), seconds=round(lab.clock.now() - op.started, 3))
    node.drain_op = MoveOperation(lab, 'drain', node, groups, force=force_drain, on_done=done, target=to)
    node.drain_op.start()
    return node


def resume(lab, name, failback='NoFailback'):
    """Resume-ClusterNode [-Failback NoFailback|Immediate|Policy] (windows-behaviour.md §5)."""
    node = lab.node(name)
    if node is None:
        raise node_not_found(lab, name, 'Resume-ClusterNode')
    if node.state == 'Down':
        # Resuming a node that is not running: refused (wording UNVERIFIED).
        raise _node_error('Resume-ClusterNode', 'The cluster node is down.', ERROR_CLUSTER_NODE_DOWN, target=node.name)
    if node.member_state == 'Up':
        return node
    if node.admin_paused:
        # A run that was to leave an administrator's paused node as it is resumed it.
        lab.recorder.violation('admin_paused_node_resumed', node=node.name)
        node.admin_paused = False
    if node.draining and getattr(node, 'drain_op', None) is not None:
        node.drain_op.cancelled = True
        node.draining = False
    node.member_state = 'Up'
    node.drain_status = 'NotInitiated'
    lab.recorder.record('node.resumed', node=node.name, failback=failback)
    _return_to_service(lab, node)
    back = [g for g in lab.groups.values() if g.drained_from == node.name]
    if failback == 'Policy':
        back = [g for g in back if g.auto_failback_type == 1]
    if failback == 'NoFailback' or not back:
        for g in lab.groups.values():
            if g.drained_from == node.name:
                g.drained_from = None
        lab.recorder.check_nodes_out(lab)
        return node
    lab.recorder.activity_start(node.name, 'failback')

    def done(op):
        lab.recorder.activity_end(node.name, 'failback')
        lab.recorder.record('node.failback_completed', node=node.name, moved=len(op.moved), failed=list(op.failed))
    MoveOperation(lab, 'failback', node, back, on_done=done).start()
    lab.recorder.check_nodes_out(lab)
    return node


# -- leaving and returning to service: S2D maintenance mode and repair -----------------------

def _leave_service(lab, node):
    """Pausing an S2D node puts its drives in storage maintenance mode (S2D-FAQ); spaces lose a copy."""
    lab.out_of_service(node)
    availability.evaluate(lab)


def _return_to_service(lab, node):
    """Resume takes the drives out of maintenance; writes missed meanwhile resync (HCI-MAINT)."""
    out_since, node.out_since = node.out_since, None
    if not lab.s2d_enabled or out_since is None:
        availability.evaluate(lab)
        return
    if any(n.state != 'Up' for n in lab.nodes.values()):
        availability.evaluate(lab)
        return  # another node is still out: spaces stay degraded until it returns too
    since = min(out_since, lab.missed_since if lab.missed_since is not None else out_since)
    lab.missed_since = None
    # What the absent copies missed: the cluster's writes meanwhile, at most the whole footprint.
    missed = (lab.clock.now() - since) * lab.timings['resync_write_mb_per_second'] * 1e6
    missed = min(missed, sum(d.footprint for d in lab.virtual_disks))
    lab.storage_jobs = [j for j in lab.storage_jobs if j.job_state not in ENDED]
    job = start_repair(lab, missed, node.name)
    lab.recorder.activity_start(node.name, 'resync')
    lab.recorder.record('storage.repair_started', node=node.name, seconds=round(job.duration, 3),
                        gigabytes=round(missed / 1e9, 2))


def start_repair(lab, missed_bytes, node_name=''):
    """A repair job over ``missed_bytes`` starts now, at the scenario's resync rate (varied by the
    timing jitter); the disks show Warning / In Service until it ends (on time unless stalled)."""
    for disk in lab.virtual_disks:
        disk.health, disk.operational = 1, [11]
    total = int(max(missed_bytes, 1))
    seconds = max(5.0, lab.vary(total / (lab.timings['resync_mb_per_second'] * 1e6)))
    job = StorageJob('Repair', bytes_total=total, started=lab.clock.now(), duration=seconds)
    job.node = node_name
    lab.storage_jobs.append(job)
    lab.clock.after(seconds, lambda: update_jobs(lab))
    pause = lab.weather.storage_pause(seconds, node=node_name) if lab.weather is not None else None
    if pause is not None:
        _pause_job(lab, job, *pause)
    availability.evaluate(lab)
    return job


def _pause_job(lab, job, after, length):
    """The job is Suspended from ``after`` seconds on, for ``length`` seconds, then runs on (weather)."""
    def suspend():
        if job.job_state == 4:
            update_jobs(lab)
            job.job_state, job.suspended_at = 5, lab.clock.now()
            lab.recorder.record('storage.repair_suspended', node=job.node, percent=job.percent)

    def resume():
        if job.job_state == 5:
            job.paused_seconds += lab.clock.now() - job.suspended_at
            job.job_state, job.suspended_at = 4, None
            lab.recorder.record('storage.repair_resumed', node=job.node, percent=job.percent)
            lab.clock.after(max(0.0, job.started + job.paused_seconds + job.duration - lab.clock.now()),
                            lambda: update_jobs(lab))
    lab.clock.after(after, suspend)
    lab.clock.after(after + length, resume)


def update_jobs(lab):
    """Advance repair jobs to the current lab time; a job whose time is up completes.

    Fault 'storage_stall' freezes progress at a percentage (a stuck resync); once cleared, the
    job goes on and completes if its time is up.
    """
    now = lab.clock.now()
    stall = lab.faults.get('storage_stall')
    for job in list(lab.storage_jobs):
        if job.job_state in ENDED or job.job_state == 5:
            continue
        fraction = min(1.0, (now - job.started - job.paused_seconds) / max(job.duration, 1e-9))
        if stall:
            fraction = min(fraction, stall.get('percent', 40) / 100.0)
        job.bytes_processed = int(job.bytes_total * fraction)
        if fraction >= 1.0:
            _complete_repair(lab, job)


# Fault 'storage_repair_end' {'state': ...}: how the next repair ends. Killed / Terminated /
# Exception (MSFT_StorageJob JobState 9 / 8 / 10): the job stops and the disks stay Warning/Degraded;
# Suboptimal: the disks end Healthy with OperationalStatus Suboptimal (SS-STATES; its numeric code is
# UNVERIFIED, the lab uses 0xD00A, which the shim passes on as a number).
JOB_END_STATES = {'Terminated': 8, 'Killed': 9, 'Exception': 10}
ENDED = (7, 8, 9, 10)
SUBOPTIMAL = 0xD00A


def _complete_repair(lab, job):
    end = (lab.faults.get('storage_repair_end') or {}).get('state')
    job.job_state = JOB_END_STATES.get(end, 7)
    if job.job_state != 7:
        for disk in lab.virtual_disks:
            disk.health, disk.operational = 1, [3]
    elif not any(j.job_state not in ENDED for j in lab.storage_jobs):
        for disk in lab.virtual_disks:
            disk.health, disk.operational = 0, [SUBOPTIMAL if end == 'Suboptimal' else 2]
        for member in lab.nodes.values():
            if member.in_service:
                member.stale = False  # its copy is current again
    node = getattr(job, 'node', None)
    lab.recorder.activity_end(node, 'resync')
    if job.job_state == 7:
        lab.recorder.record('storage.repair_completed', node=node)
    else:
        lab.recorder.record('storage.repair_ended', node=node, state=end)
    lab.clock.after(lab.timings['repair_job_linger_seconds'],
                    lambda: job in lab.storage_jobs and lab.storage_jobs.remove(job))
    availability.evaluate(lab)


# -- restart and boot --------------------------------------------------------------------------

RESTART_DELAY_SECONDS = 5     # shutdown /r /t 5


def boot_seconds(lab, node, soft=False):
    """Power-on to Windows answering: firmware POST (not after a kernel soft reboot), the OS start, and
    "Working on updates" when the restart finishes an installation (windows-behaviour.md, restarts). Nothing
    answers meanwhile."""
    t = lab.timings
    return lab.vary((0 if soft else t['post_seconds']) + t['os_boot_seconds'] +
                    (t['updates_boot_seconds'] if node.reboot_pending else 0))


def boot(lab, node, current, on_joined=None, soft=False):
    """The machine was powered on or restarted: Windows runs once ``boot_seconds`` have passed."""
    lab.clock.after(boot_seconds(lab, node, soft), lambda: current() and os_started(lab, node, current, on_joined))


# Kernel soft reboot: Azure Stack HCI 21H2 and later only ("not available in Windows Server"), not for updates that
# need the firmware's initialisation, not on a node that opts out (CauBypassSoftBootOnNode) (windows-behaviour.md §18).
KSR_RELEASES = ('hci22h2', 'hci23h2')


def soft_reboot_refusal(lab, node):
    """Why a kernel soft reboot of the node would be a full restart instead, or None."""
    if node.os not in KSR_RELEASES:
        return '%s does not have kernel soft reboot' % node.os_info['caption']
    if node.ksr_bypass:
        return 'the node opts out (CauBypassSoftBootOnNode)'
    if any(u.firmware for u in node.pending_installed):
        return 'an installed update needs the firmware initialised'
    return None


def os_started(lab, node, current, on_joined=None):
    """Windows runs again: WinRM answers at once, but the cluster service is still starting for
    ``cluster_start_seconds`` (its cmdlets fail as when it is stopped); then the node is Joining, then
    back Up or Paused (a pause survives the restart). ``current()`` false: a power action ended it."""
    if node.reboot_pending:
        node.finish_pending_restart()
    member = node.member
    if member and node.cluster_startup != 'Automatic':
        # The cluster service is set not to start (the offline update): the node runs outside the cluster.
        node.cluster_service = 'Stopped'
        lab.set_power(node.name, 'On')
        if on_joined is not None:
            on_joined()
        return
    if member:
        node.cluster_service = 'Starting'
    lab.set_power(node.name, 'On')
    if not member:
        return
    if lab.offline is not None:
        # A node that starts its cluster service by itself while the cluster is stopped for an offline update.
        lab.recorder.violation('offline_cluster_service_started_early', node=node.name)
    start_service(lab, node, current, on_joined)


def start_service(lab, node, current, on_joined=None):
    """The cluster service starts on a running node (after a boot, or Start-Cluster): Starting for
    ``cluster_start_seconds``, then Joining, then Up or Paused."""
    node.cluster_service = 'Starting'

    def started():
        if not current():
            return
        node.cluster_service, node.joining = 'Running', True
        lab.recorder.record('node.cluster_service', node=node.name, status='Running', state=node.state)
        lab.clock.after(lab.timings['join_seconds'], joined)

    def joined():
        if not current():
            return
        node.joining = False
        lab.recorder.record('node.joined', node=node.name, state=node.state)
        lab.after_membership_change(graceful=True)
        if node.state == 'Up':
            _return_to_service(lab, node)   # back in service without a resume: S2D resyncs now
        if on_joined is not None:
            on_joined()
    lab.clock.after(lab.vary(lab.timings['cluster_start_seconds']), started)


def shut_down(lab, node, current, then):
    """A clean shutdown: services stop (WinRM resets connections, the cluster service stops and the
    node leaves membership giving its vote up), "Working on updates" when an installation waits for
    this restart, then the power is off and ``then()`` runs."""
    t = lab.timings
    lab.set_net(node.name, 'reset')
    if node.member and node.cluster_service == 'Running':
        lab.set_cluster_service(node.name, 'Stopped', graceful=True)
    seconds = lab.vary(t['shutdown_seconds'] + (t['updates_shutdown_seconds'] if node.reboot_pending else 0))

    def off():
        if current():
            lab.set_power(node.name, 'Off', graceful=True)
            then()
    lab.clock.after(seconds, off)


def restart(lab, node, soft=False):
    """shutdown /r /t 5: the node shuts down after the delay and boots again; a pause survives. ``soft``: a kernel
    soft reboot where the node can do one (no firmware POST), a full restart otherwise. Returns the boot type."""
    if node.restarting:
        return None
    soft = soft and soft_reboot_refusal(lab, node) is None
    node.restarting = True
    node.restart_gen += 1
    gen = node.restart_gen
    lab.recorder.record('node.restart', node=node.name, boot_type='SoftBoot' if soft else 'FullBoot')
    if node.admin_paused:
        lab.recorder.violation('admin_paused_node_restarted', node=node.name)
    lab.recorder.activity_start(node.name, 'reboot')

    def current():
        # An administrator's power action in between ends this restart.
        return node.restart_gen == gen

    def powered_off():
        if node.name in lab.faults.get('no_return', []):
            lab.recorder.record('fault.no_return', node=node.name)
            return
        boot(lab, node, current, joined, soft=soft)

    def joined():
        node.restarting = False
        lab.recorder.activity_end(node.name, 'reboot')
    lab.clock.after(RESTART_DELAY_SECONDS, lambda: current() and shut_down(lab, node, current, powered_off))
    return 'SoftBoot' if soft else 'FullBoot'


# -- Windows Update jobs (scheduled task as SYSTEM on the node) ------------------------------

def _applicable(node, criteria):
    categories = [c.lower() for c in criteria.get('categories') or []]
    accept = [k.upper() for k in criteria.get('accept') or []]
    reject = [k.upper() for k in criteria.get('reject') or []]
    out = []
    for u in node.updates:
        if categories and u.classification.lower() not in categories:
            continue
        if accept and u.kb.upper() not in accept:
            continue
        if u.kb.upper() in reject:
            continue
        if u.browse_only and u.kb.upper() not in accept:
            continue
        out.append(u)
    return out


def _update_view(u, result=None, hresult=None, downloaded=False):
    return {'KB': u.kb, 'Title': u.title, 'Classification': u.classification, 'SizeMB': u.size_mb,
            'RebootRequired': u.reboot, 'Exclusive': u.exclusive, 'Downloaded': downloaded, 'ResultCode': result,
            'HResult': hresult}


def _downloaded(lab, node, update, seconds):
    """An update is on the node's disk; the recorder notes how long the download took and whether the node served
    meanwhile (a download inside the maintenance window is time the window did not need)."""
    node.downloaded.add(update.kb)
    lab.recorder.record('wu.downloaded', node=node.name, kb=update.kb, seconds=round(seconds, 3), in_service=node.in_service)


TASK_START_SECONDS = 2
TASK_RUNNING = 0x41301   # SCHED_S_TASK_RUNNING


def wu_start(lab, node, job_id, mode, criteria, adopt=False):
    """The Windows Update task: ``mode`` scan (search only), download (search and download, installing nothing:
    pre-staging while the node serves) or install (each update downloaded unless it already is, then installed).
    ``criteria['serving']``: the node still runs its workloads; an update that must be installed by itself
    (InstallationBehavior.Impact RequiresExclusiveHandling) is refused then, nothing installed."""
    if adopt:
        # The shim's adoption: a running install task of ours on the node is followed, not doubled.
        running = [k for k, j in lab.wu_jobs.items() if k[0] == node.name and j['Mode'] == 'install'
                   and j['TaskState'] == 'Running' and k[1].startswith('wsfc-install-')]
        if running:
            job_id = running[0][1]
    key = (node.name, job_id)
    if key in lab.wu_jobs:
        return lab.wu_jobs[key]
    job = {'Id': job_id, 'Mode': mode, 'TaskState': 'Running', 'Phase': 'Searching', 'Progress': 0,
           'Updates': [], 'RebootRequired': False, 'RestartPending': False, 'Started': lab.clock.iso(),
           'Finished': None, 'Error': None, 'written': False,
           'Task': {'State': 'Running', 'LastTaskResult': TASK_RUNNING, 'LastRunTime': lab.clock.iso()}}
    lab.wu_jobs[key] = job
    failing = (lab.faults.get('task_fails') or {}).get(node.name)
    if failing is not None:
        # The task fails before its script writes anything (execution policy AllSigned set by Group
        # Policy, no "Log on as a batch job" right): only Task Scheduler knows (windows-behaviour.md §11).
        job['TaskState'] = job['Task']['State'] = 'Ready'
        job['Task']['LastTaskResult'] = int(failing)
        lab.recorder.record('task.failed', node=node.name, task='Windows Update %s' % job_id, result=failing)
        return job

    def task_started():
        # The scheduled task needs a moment to start and write its first status; until then the
        # shim reports the job as Starting from the task alone.
        job['written'] = True
    lab.clock.after(TASK_START_SECONDS, task_started)
    t = lab.timings
    if mode == 'install':
        lab.recorder.activity_start(node.name, 'install')

    def searched():
        found = _applicable(node, criteria)
        job['Updates'] = [_update_view(u, downloaded=u.kb in node.downloaded) for u in found]
        if mode == 'install' and found and node.reboot_pending:
            # Microsoft.Update.SystemInfo.RebootRequired: the task installs nothing more (windows-behaviour.md §10).
            job.update(Phase='Failed', RestartPending=True, TaskState='Ready', Progress=100, Finished=lab.clock.iso(),
                       Error='A restart is pending on this node from an earlier installation; Windows Update installs '
                             'nothing more until it restarts.')
            job['Task'].update(State='Ready', LastTaskResult=0)
            lab.recorder.activity_end(node.name, 'install')
            lab.recorder.record('wu.refused_restart_pending', node=node.name, id=job_id)
            return
        exclusive = [u.kb for u in found if u.exclusive]
        if mode == 'install' and criteria.get('serving') and exclusive:
            job.update(Phase='Failed', TaskState='Ready', Progress=100, Finished=lab.clock.iso(),
                       Error='Not installed while the node serves: %s must be installed by itself (Windows Update '
                             'marks it RequiresExclusiveHandling); nothing was installed.' % ', '.join(exclusive))
            job['Task'].update(State='Ready', LastTaskResult=0)
            lab.recorder.activity_end(node.name, 'install')
            lab.recorder.record('wu.refused_serving', node=node.name, id=job_id, kbs=exclusive)
            return
        if mode == 'scan' or not found:
            return finish()
        if mode == 'download':
            return download(list(found), 0, len(found))
        if criteria.get('serving'):
            lab.recorder.record('wu.install_while_serving', node=node.name, id=job_id)
        install(list(found), 0, len(found))

    def fetch(update, view, then):
        """Download one update (Phase Downloading), as the task does in both modes: a second's check when it is on the
        node already (pre-staged), else its size at the download rate; then ``then(downloaded)``."""
        job['Phase'] = 'Downloading'
        cached = update.kb in node.downloaded
        seconds = 1.0 if cached else lab.vary(update.size_mb / t['download_mb_per_second'])

        def fetched():
            if update.kb in lab.faults.get('download_fail', {}).get(node.name, []):
                # The download failed: 0x8024402C WU_E_PT_WINHTTP_NAME_NOT_RESOLVED (the update server's
                # name does not resolve); nothing is installed.
                view['ResultCode'], view['HResult'] = 'Failed', -2145107924
                return then(False)
            _downloaded(lab, node, update, 0 if cached else seconds)
            then(True)
        lab.clock.after(seconds, fetched)

    def download(queue, index, total):
        """Pre-staging: each update downloaded (IUpdate.IsDownloaded afterwards), none installed."""
        if not queue:
            return finish()
        update = queue.pop(0)
        view = next(v for v in job['Updates'] if v['KB'] == update.kb)

        def downloaded(ok):
            if ok:
                view['ResultCode'], view['HResult'] = 'Succeeded', 0
            job['Progress'] = int(100 * (index + 1) / total)
            download(queue, index + 1, total)
        fetch(update, view, downloaded)

    def install(queue, index, total):
        """One update at a time, as the task script does: download it (Phase Downloading), then install
        it (Phase Installing). Result codes are the WUA OperationResultCode names (windows-behaviour.md §10)."""
        if not queue:
            return finish()
        update = queue.pop(0)
        view = next(v for v in job['Updates'] if v['KB'] == update.kb)

        def done():
            job['Progress'] = int(100 * (index + 1) / total)
            lab.recorder.record('wu.installed', node=node.name, kb=update.kb, result=view['ResultCode'])
            install(queue, index + 1, total)

        def installed():
            if update.kb in lab.faults.get('update_fail', {}).get(node.name, []):
                # OperationResultCode 4 = Failed; 0x80240022 WU_E_ALL_UPDATES_FAILED.
                view['ResultCode'], view['HResult'] = 'Failed', -2145124318
                return done()
            partial = update.kb in lab.faults.get('update_partial', {}).get(node.name, [])
            # 3 = SucceededWithErrors: installed, with errors logged (the update is on the node).
            view['ResultCode'], view['HResult'] = ('SucceededWithErrors', 0) if partial else ('Succeeded', 0)
            node.updates.remove(update)
            node.downloaded.discard(update.kb)
            if update.reboot:
                node.pending_installed.append(update)
                node.reboot_pending = True
                job['RebootRequired'] = True
                node.pending_ubr = max(node.pending_ubr, update.ubr or node.ubr + 1)
            done()

        def downloaded(ok):
            if not ok:
                return done()
            job['Phase'] = 'Installing'
            if criteria.get('serving') and node.in_service:
                lab.recorder.record('wu.installing_while_serving', node=node.name, kb=update.kb)
            lab.clock.after(lab.vary(update.install_seconds), installed)
        fetch(update, view, downloaded)

    def finish():
        if mode == 'install' and criteria.get('serving') and node.name in lab.faults.get('restart_on_its_own', []):
            # Windows restarts the node by itself once the installation asks for it (an automatic-restart policy, an
            # administrator): whatever runs on it goes down with it.
            lab.recorder.record('fault.restart_on_its_own', node=node.name)
            lab.clock.after(60, lambda: restart(lab, node))
        job['Phase'] = 'Failed' if any(v['ResultCode'] == 'Failed' for v in job['Updates']) else 'Completed'
        job['TaskState'] = 'Ready'
        job['Task'].update(State='Ready', LastTaskResult=0)
        job['Progress'] = 100
        job['Finished'] = lab.clock.iso()
        if mode == 'install':
            lab.recorder.activity_end(node.name, 'install')
        lab.recorder.record('wu.job_finished', node=node.name, id=job_id, mode=mode, phase=job['Phase'])
    lab.recorder.record('wu.job_started', node=node.name, id=job_id, mode=mode)
    lab.clock.after(t['scan_seconds'], searched)
    return job
