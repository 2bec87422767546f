"""Cluster-Aware Updating Updating Runs in the lab (windows-behaviour.md §13).

A run holds the cluster from start to end: while it runs ``Get-CauRun`` reports RunInProgress with the
run's id, the orchestrator (the node that owns the CAU clustered role in self-updating mode) and each
node's state; another Updating Run cannot start. A self-updating run starts on the role's schedule
without anyone asking: scenario ``cluster: {cau_role: true, cau_run_after_seconds: S}`` starts one S lab
seconds after the lab, the control API's ``cau_run`` fault starts one at once.

The run takes the nodes one at a time as CAU does: it waits for storage jobs to end, drains the node
(Suspend-ClusterNode -Drain), installs what Windows Update offers (download and install, as the lab's
Windows Update task does), restarts the node when an update asks for it, resumes it with failback, waits
for the storage repair, then takes the next node. A node whose drain fails, or whose updates fail, is
Failed: it is resumed and the run goes on, up to MaxFailedNodes (then the run ends Failed).

The names of the per-node states are the lab's (UNVERIFIED against Get-CauRun's output objects).
"""

from . import maintenance

POLL_SECONDS = 10.0          # how often the orchestrator looks at its node (lab choice)


class CauRun:
    def __init__(self, lab, run_id, orchestrator, max_failed_nodes=1):
        self.lab = lab
        self.run_id = run_id
        self.orchestrator = orchestrator
        self.started = lab.clock.iso()
        self.max_failed = max_failed_nodes
        self.states = dict((name, 'Waiting') for name in sorted(lab.nodes))
        self.current = None
        self.finished = False
        self.result = None
        self.job = None

    def view(self):
        return {'RunId': self.run_id, 'RunStartTime': self.started, 'CurrentOrchestrator': self.orchestrator,
                'NodeStatusNotifications': [{'Node': n, 'Status': s} for n, s in sorted(self.states.items())]}

    def start(self):
        self.lab.recorder.record('cau.run_started', run=self.run_id, orchestrator=self.orchestrator)
        self.lab.clock.after(POLL_SECONDS, self.step)

    def _set(self, state):
        self.states[self.current] = state
        self.lab.recorder.record('cau.node_state', run=self.run_id, node=self.current, state=state)

    def _end_node(self, state):
        node = self.lab.node(self.current)
        if node is not None and node.state == 'Paused' and not node.restarting:
            maintenance.resume(self.lab, node.name, 'Immediate')
        self._set(state)
        self.current = None

    def step(self):
        lab = self.lab
        if self.finished:
            return
        if self.current is None:
            failed = [n for n, s in self.states.items() if s == 'Failed']
            waiting = [n for n, s in self.states.items() if s == 'Waiting']
            if len(failed) >= self.max_failed or not waiting:
                return self.finish('Failed' if failed else 'Succeeded')
            if maintenance.storage_busy(lab):
                return lab.clock.after(POLL_SECONDS, self.step)
            self.current = waiting[0]
            node = lab.node(self.current)
            if node is None or node.state != 'Up' or not node.updates:
                self._set('Succeeded' if node is not None and not node.updates else 'Failed')
                self.current = None
                return lab.clock.after(POLL_SECONDS, self.step)
            self._set('Suspending')
            try:
                maintenance.suspend(lab, node.name, drain=True)
            except Exception:  # noqa: BLE001 - a refused suspend is a failed node, as CAU reports it
                self._set('Failed')
                self.current = None
            return lab.clock.after(POLL_SECONDS, self.step)
        node = lab.node(self.current)
        state = self.states[self.current]
        if state == 'Suspending':
            if node.drain_status == 'Failed':
                self._end_node('Failed')
            elif node.drain_status == 'Completed':
                self._set('Installing')
                self.job = maintenance.wu_start(lab, node, 'cau-%s-%s' % (self.run_id, node.name.lower()), 'install', {})
        elif state == 'Installing':
            if self.job['Phase'] in ('Completed', 'Failed'):
                if self.job['Phase'] == 'Failed':
                    self._end_node('Failed')
                elif node.reboot_pending:
                    self._set('Restarting')
                    maintenance.restart(lab, node)
                else:
                    self._set('Resuming')
        elif state == 'Restarting':
            if not node.restarting and node.state == 'Paused':
                self._set('Resuming')
        elif state == 'Resuming':
            maintenance.resume(lab, node.name, 'Immediate')
            self._set('WaitingForStorage')
        elif state == 'WaitingForStorage':
            if not maintenance.storage_busy(lab):
                self._set('Succeeded')
                self.current = None
        lab.clock.after(POLL_SECONDS, self.step)

    def finish(self, result):
        self.finished, self.result = True, result
        self.lab.cau_run = None
        self.lab.recorder.record('cau.run_finished', run=self.run_id, result=result,
                                 nodes=dict(self.states))


def start_run(lab):
    """Start an Updating Run of the CAU clustered role (its schedule came, or the control API asked)."""
    if lab.cau_run is not None:
        return lab.cau_run
    group = next((g for g in lab.groups.values() if g.group_type_value == 117), None)
    orchestrator = group.owner if group is not None else sorted(lab.nodes)[0]
    run = CauRun(lab, 'cau-%s' % lab.next_id(), orchestrator,
                 max_failed_nodes=int(lab.cau_parameters.get('MaxFailedNodes', 1) or 1))
    lab.cau_run = run
    run.start()
    return run
