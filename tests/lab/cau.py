"""Cluster-Aware Updating Updating Runs in the lab (windows-behaviour.md §13).

A run holds the cluster from start to end: while it runs ``Get-CauRun`` reports RunInProgress with the
run's id, the orchestrator and each node's state; another Updating Run cannot start. A run starts three
ways: on the CAU clustered role's schedule (scenario ``cluster: {cau_role: true, cau_run_after_seconds: S}``),
by the control API's ``cau_run`` fault, or by ``Invoke-CauRun`` (the shim's 'cau.run_start', which the lab
answers by starting the run here with the options given).

The run takes the nodes one at a time as CAU does (PS:Invoke-CauRun): in NodeOrder, else the node owning the
fewest clustered roles first; it waits for storage jobs to end, drains the node, installs what the plug-in
offers (Windows Update or hotfixes: the node's pending updates; RollingUpgrade: setup from PathToSetupMedia,
the in-place upgrade), restarts the node when asked, resumes it with FailbackMode, waits for the storage
repair, then takes the next node. A node whose drain or installation fails is resumed and Failed; the run
goes on while no more than MaxFailedNodes nodes failed (one more ends it Failed). An installation that fails
is tried again up to MaxRetriesPerNode times. RequireAllNodesOnline refuses to start unless every node is Up.
At the end the run's report is kept (Get-CauReport -Last -Detailed).

A leftover run (fault ``cau_leftover``: a run whose orchestrator was lost) leaves Get-CauRun at RunFailed;
Invoke-CauRun refuses until ``-ForceRecovery`` (ALS-CCR). The names of the per-node states are the lab's
(UNVERIFIED against Get-CauRun's output objects); so is the refusal's wording.
"""

from . import maintenance, provisioning
from .model import CmdletError, OS_CATALOG

POLL_SECONDS = 10.0          # how often the orchestrator looks at its node (lab choice)
PLUGINS = ('Microsoft.WindowsUpdatePlugin', 'Microsoft.HotfixPlugin', 'Microsoft.RollingUpgradePlugin')


def default_max_failed(lab):
    # "The default for most clusters is approximately one-third of the number of nodes" (PS:Invoke-CauRun).
    return max(0, len(lab.nodes) // 3)


class CauRun:
    def __init__(self, lab, run_id, orchestrator, options=None):
        options = dict(options or {})
        self.lab = lab
        self.run_id = run_id
        self.orchestrator = orchestrator
        self.started_at = lab.clock.now()
        self.started = lab.clock.iso()
        self.plugin = options.get('plugin') or 'Microsoft.WindowsUpdatePlugin'
        self.arguments = dict(options.get('arguments') or {})
        self.max_failed = int(options.get('MaxFailedNodes', default_max_failed(lab)))
        self.max_retries = int(options.get('MaxRetriesPerNode', 3))
        self.failback = options.get('FailbackMode') or 'Immediate'
        self.reboot_timeout = float(options.get('RebootTimeoutMinutes', 15)) * 60
        # Kernel soft reboot: asked per run (AttemptSoftReboot, RebootMode SoftReboot) or for every run by the
        # cluster property CauEnableSoftReboot = 1; done where the node can (windows-behaviour.md §18).
        self.soft_reboot = (bool(options.get('AttemptSoftReboot')) or options.get('RebootMode') == 'SoftReboot' or
                            str(lab.cluster_params.get('CauEnableSoftReboot', '')) == '1')
        order = [n for n in options.get('NodeOrder') or [] if n in lab.nodes]
        owned = dict((n, sum(1 for g in lab.groups.values() if g.owner == n)) for n in lab.nodes)
        order += sorted((n for n in lab.nodes if n not in order), key=lambda n: (owned[n], n))
        self.order = order
        self.states = dict((name, 'Waiting') for name in order)
        self.results = dict((name, {'installed': [], 'failed': [], 'error': None}) for name in order)
        self.current = None
        self.attempts = 0
        self.since = 0.0
        self.finished = False
        self.result = None
        self.job = None

    def view(self):
        return {'RunId': self.run_id, 'RunStartTime': self.started, 'CurrentOrchestrator': self.orchestrator,
                'NodeStatusNotifications': [{'Node': n, 'Status': self.states[n]} for n in self.order]}

    def start(self):
        self.lab.recorder.record('cau.run_started', run=self.run_id, orchestrator=self.orchestrator, plugin=self.plugin,
                                 order=list(self.order))
        self.lab.clock.after(POLL_SECONDS, self.step)

    def _set(self, state):
        self.states[self.current] = state
        self.since = self.lab.clock.now()
        self.lab.recorder.record('cau.node_state', run=self.run_id, node=self.current, state=state)

    def _fail(self, error):
        node = self.lab.node(self.current)
        self.results[self.current]['error'] = error
        if node is not None and node.state == 'Paused' and not node.restarting:
            maintenance.resume(self.lab, node.name, 'Immediate')
        self._set('Failed')
        self.current = None

    def _target_os(self):
        return self.lab.setup_media.get(self.arguments.get('PathToSetupMedia'))

    def _needs_work(self, node):
        if self.plugin == 'Microsoft.RollingUpgradePlugin':
            target = self._target_os()
            return target is not None and OS_CATALOG[target]['build'] != node.os_info['build']
        return bool(maintenance._applicable(node, {}))

    def step(self):
        lab = self.lab
        if self.finished:
            return
        if self.current is None:
            failed = [n for n, s in self.states.items() if s == 'Failed']
            waiting = [n for n in self.order if self.states[n] == 'Waiting']
            if len(failed) > self.max_failed or not waiting:
                return self.finish('Failed' if len(failed) > self.max_failed else 'PartiallyFailed' if failed else 'Succeeded')
            if maintenance.storage_busy(lab) or any(n.state != 'Up' for n in lab.nodes.values()):
                # CAU keeps quorum: it takes the next node only with the others up and storage quiet (UNVERIFIED
                # in detail; the harsher reading would take it anyway).
                return lab.clock.after(POLL_SECONDS, self.step)
            self.current = waiting[0]
            node = lab.node(self.current)
            if node is None:
                self._set('Failed')
                self.current = None
            elif not self._needs_work(node):
                self._set('Succeeded')
                self.current = None
            else:
                self._set('Suspending')
                self.attempts = 0
                try:
                    maintenance.suspend(lab, node.name, drain=True)
                except CmdletError as exc:
                    self._fail(str(exc))
            return lab.clock.after(POLL_SECONDS, self.step)
        node = lab.node(self.current)
        state = self.states[self.current]
        if state == 'Suspending':
            if node.drain_status == 'Failed':
                self._fail('The drain of %s failed: a role could not be moved.' % node.name)
            elif node.drain_status == 'Completed':
                self._install(node)
        elif state == 'Installing':
            self._installing(node)
        elif state == 'Upgrading':
            target = self._target_os()
            if not node.restarting and node.state == 'Paused' and node.os == target:
                info = OS_CATALOG[target]
                self.results[self.current]['installed'].append({
                    'Title': '%s, build %d (in-place upgrade from setup media)' % (info['caption'], info['build']),
                    'KB': 'Setup', 'ResultCode': 'Succeeded', 'HResult': 0})
                self._set('Resuming')
            elif lab.clock.now() - self.since > self.reboot_timeout + lab.timings['inplace_upgrade_seconds'] + 3600:
                self._fail('%s did not come back on the new release in time.' % node.name)
        elif state == 'Restarting':
            if not node.restarting and node.state == 'Paused':
                self._set('Resuming')
            elif lab.clock.now() - self.since > self.reboot_timeout:
                self.results[self.current]['error'] = 'The restart of %s did not finish within RebootTimeoutMinutes.' % node.name
                self._set('Failed')
                self.current = None
        elif state == 'Resuming':
            maintenance.resume(lab, node.name, self.failback)
            self._set('WaitingForStorage')
        elif state == 'WaitingForStorage':
            if not maintenance.storage_busy(lab):
                self._set('Succeeded')
                self.current = None
        lab.clock.after(POLL_SECONDS, self.step)

    def _install(self, node):
        if self.plugin == 'Microsoft.RollingUpgradePlugin':
            self._set('Upgrading')
            try:
                provisioning.inplace_upgrade(self.lab, node, self.arguments.get('PathToSetupMedia'))
            except CmdletError as exc:
                self._fail(str(exc))
            return
        self._set('Installing')
        self.attempts += 1
        self.job = maintenance.wu_start(self.lab, node, 'cau-%s-%s-%d' % (self.run_id, node.name.lower(), self.attempts),
                                        'install', {})

    def _installing(self, node):
        if self.job['Phase'] not in ('Completed', 'Failed'):
            return
        result = self.results[self.current]
        for row in self.job['Updates']:
            if row.get('ResultCode') in ('Succeeded', 'SucceededWithErrors'):
                result['installed'].append(row)
            elif row.get('ResultCode') == 'Failed':
                result['failed'].append(row)
        if self.job['Phase'] == 'Failed':
            if self.attempts <= self.max_retries:
                return self._install(node)     # MaxRetriesPerNode: the update process is tried again
            return self._fail(self.job.get('Error') or 'Installing updates on %s failed.' % node.name)
        if node.reboot_pending:
            self._set('Restarting')
            maintenance.restart(self.lab, node, soft=self.soft_reboot)
        else:
            self._set('Resuming')

    def finish(self, result):
        lab = self.lab
        self.finished, self.result = True, result
        lab.cau_run = None
        if (result != 'Failed' and self.plugin == 'Microsoft.RollingUpgradePlugin'
                and str(self.arguments.get('UpdateClusterFunctionalLevel', '')).lower() == 'true'):
            provisioning.update_functional_level(lab, what_if=False)
        lab.cau_reports.append(self.report(result))
        lab.recorder.record('cau.run_finished', run=self.run_id, result=result, nodes=dict(self.states))

    def report(self, status):
        nodes = []
        for name in self.order:
            r = self.results[name]
            nodes.append({'Node': name, 'Status': self.states[name] if self.states[name] in ('Succeeded', 'Failed')
                          else 'NotStarted', 'Error': r['error'],
                          'Succeeded': len(r['installed']), 'Failed': len(r['failed']),
                          'Updates': [{'Title': u['Title'], 'Id': u['KB'], 'ResultCode': u['ResultCode'],
                                       'ErrorCode': u.get('HResult') or 0} for u in r['installed'] + r['failed']]})
        return {'RunId': self.run_id, 'Status': status, 'StartTimestamp': self.started,
                'RunDurationSeconds': round(self.lab.clock.now() - self.started_at, 1), 'Plugin': self.plugin,
                'Nodes': nodes}


def start_run(lab, options=None):
    """Start an Updating Run (the role's schedule came, the control API asked, or Invoke-CauRun)."""
    if lab.cau_run is not None:
        return lab.cau_run
    group = next((g for g in lab.groups.values() if g.group_type_value == 117), None)
    orchestrator = group.owner if group is not None else sorted(lab.nodes)[0]
    if options is None:
        options = {'MaxFailedNodes': lab.cau_parameters.get('MaxFailedNodes', default_max_failed(lab))}
    run = CauRun(lab, 'cau-%s' % lab.next_id(), orchestrator, options)
    lab.cau_run = run
    run.start()
    return run


def invoke(lab, node, options):
    """Invoke-CauRun as the shim's task starts it: refused while a run holds the cluster, after a failed run
    until -ForceRecovery, with RequireAllNodesOnline while a node is not Up, or for an unknown plug-in."""
    if lab.cau_leftover is not None:
        raise CmdletError('The cluster is locked by a previous Updating Run that failed (run %s). Run Invoke-CauRun '
                          '-ForceRecovery to recover.' % lab.cau_leftover, 'CauClusterLocked', 'ResourceBusy',
                          exception='Microsoft.ClusterAwareUpdating.CauException')
    if lab.cau_run is not None:
        raise CmdletError('An Updating Run is already in progress on this cluster (run %s).' % lab.cau_run.run_id,
                          'CauRunInProgress', 'ResourceBusy', exception='Microsoft.ClusterAwareUpdating.CauException')
    plugin = options.get('plugin') or 'Microsoft.WindowsUpdatePlugin'
    if plugin not in PLUGINS:
        raise CmdletError("The plug-in '%s' is not registered." % plugin, 'PluginNotFound', 'ObjectNotFound',
                          exception='Microsoft.ClusterAwareUpdating.CauException')
    if plugin == 'Microsoft.RollingUpgradePlugin' and options.get('arguments', {}).get('PathToSetupMedia') not in lab.setup_media:
        raise CmdletError("Setup media not found at '%s'." % options.get('arguments', {}).get('PathToSetupMedia'),
                          'PathNotFound', 'ObjectNotFound', exception='System.Management.Automation.ItemNotFoundException')
    if options.get('RequireAllNodesOnline') and any(n.state != 'Up' for n in lab.nodes.values()):
        raise CmdletError('Not all cluster nodes are online: %s.' % ', '.join(
            '%s is %s' % (n.name, n.state) for n in lab.nodes.values() if n.state != 'Up'),
            'CauNodesOffline', 'InvalidOperation', exception='Microsoft.ClusterAwareUpdating.CauException')
    return start_run(lab, options)


def recover(lab):
    """Invoke-CauRun -ForceRecovery: clears a failed run's lock (nodes it left paused stay paused, UNVERIFIED)."""
    before = lab.cau_leftover
    lab.cau_leftover = None
    lab.recorder.record('cau.recovered', run=before)
    return before


# -- the CAU clustered role (Add-/Set-/Enable-/Disable-/Remove-CauClusterRole, windows-behaviour.md §13) --------------

# Set-CauClusterRole's -IntervalWeeks shows as WeeksInterval in Get-CauClusterRole (PS:Set-CauClusterRole example 2);
# the other names are the parameters' own (UNVERIFIED for those the examples do not show).
PROPERTY_NAMES = {'IntervalWeeks': 'WeeksInterval'}


def _role_group(lab):
    return next((g for g in lab.groups.values() if g.group_type_value == 117), None)


def _text(value):
    if isinstance(value, bool):
        return 'True' if value else 'False'
    if isinstance(value, list):
        return ', '.join(str(v) for v in value)
    return str(value)


def _apply(lab, params):
    for name, value in (params.get('parameters') or {}).items():
        lab.cau_parameters[PROPERTY_NAMES.get(name, name)] = _text(value)
    plugin = params.get('plugin')
    if plugin:
        lab.cau_parameters['CauPluginName'] = plugin.get('name')
        if plugin.get('arguments'):
            lab.cau_parameters['CauPluginArguments'] = ';'.join('%s=%s' % kv for kv in sorted(plugin['arguments'].items()))


def add_role(lab, node, params):
    if _role_group(lab) is not None:
        raise CmdletError('The CAU clustered role is already installed on this cluster.', 'CauRoleExists', 'ResourceExists',
                          exception='Microsoft.ClusterAwareUpdating.CauException')
    from .model import Group
    name = 'CAU%scau' % lab.name[:6].lower()
    lab.groups[name] = Group(name=name, id=lab.next_id(), group_type='ClusterUpdateAgent', owner=node.name, priority=1000)
    lab.cau_parameters = {'ResourceGroupName': name, 'Status': 'Online', 'CauPluginName': 'Microsoft.WindowsUpdatePlugin'}
    _apply(lab, params)
    lab.recorder.record('cau.role_added', node=node.name)


def _need_role(lab):
    group = _role_group(lab)
    if group is None:
        raise CmdletError('The CAU clustered role is not installed on this cluster.', 'CauRoleNotFound', 'ObjectNotFound',
                          exception='Microsoft.ClusterAwareUpdating.CauException')
    return group


def set_role(lab, params):
    _need_role(lab)
    _apply(lab, params)
    lab.recorder.record('cau.role_set', parameters=sorted(params.get('parameters') or {}))


def enable_role(lab, enabled):
    group = _need_role(lab)
    group.state = 'Online' if enabled else 'Offline'
    lab.cau_parameters['Status'] = group.state
    lab.recorder.record('cau.role_enabled' if enabled else 'cau.role_disabled')


def remove_role(lab):
    group = _need_role(lab)
    del lab.groups[group.name]
    lab.cau_parameters = {}
    lab.recorder.record('cau.role_removed')
