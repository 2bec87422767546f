"""The shim's operations, executed against the lab model.

Each function does what the matching entry of the shim's ``$WsfcOperations`` does on Windows: run
the cmdlets (with their documented refusals, see model.py) and project the result the same way the
shim does. ``execute`` is what PowerShell would print for one request.
"""

import json
import re

from . import cau, maintenance, offline, provisioning
from .model import OS_CATALOG, CmdletError, cluster_service_not_running

HEALTH = {0: 'Healthy', 1: 'Warning', 2: 'Unhealthy', 5: 'Unknown'}
OPERATIONAL = {0: 'Unknown', 1: 'Other', 2: 'OK', 3: 'Degraded', 4: 'Stressed', 5: 'Predictive Failure',
               6: 'Error', 7: 'Non-Recoverable Error', 8: 'Starting', 9: 'Stopping', 10: 'Stopped',
               11: 'In Service', 12: 'No Contact', 13: 'Lost Communication', 14: 'Aborted', 15: 'Dormant',
               16: 'Supporting Entity in Error', 17: 'Completed', 18: 'Power Mode', 19: 'Relocating',
               0xD002: 'Detached', 0xD003: 'Incomplete'}
JOB_STATE = {2: 'New', 3: 'Starting', 4: 'Running', 5: 'Suspended', 6: 'ShuttingDown', 7: 'Completed',
             8: 'Terminated', 9: 'Killed', 10: 'Exception', 11: 'Service', 12: 'QueryPending'}

OPERATIONS = {}


def operation(name):
    def register(func):
        OPERATIONS[name] = func
        return func
    return register


def _code(table, value):
    return table.get(value, str(value))


def _require_cluster(lab, node, command):
    """FailoverClusters cmdlets need the local cluster service (windows-behaviour.md §3)."""
    if node.cluster_service != 'Running':
        raise cluster_service_not_running(command)


def _elapsed(seconds):
    seconds = int(seconds)
    return '%02d:%02d:%02d' % (seconds // 3600, seconds % 3600 // 60, seconds % 60)


@operation('cluster.get')
def cluster_get(lab, node, params):
    _require_cluster(lab, node, 'GetClusterCommand')
    return {
        'Name': lab.name, 'Id': lab.id, 'Domain': lab.domain,
        'ClusterFunctionalLevel': lab.functional_level, 'ClusterUpgradeVersion': lab.upgrade_version,
        'S2DEnabled': 1 if lab.s2d_enabled else 0, 'DynamicQuorum': 1 if lab.dynamic_quorum else 0,
        'WitnessDynamicWeight': lab.witness_dynamic_weight(), 'ComputerName': node.name,
        'ProductName': node.os_info['caption'],
    }


@operation('cluster.quorum')
def cluster_quorum(lab, node, params):
    _require_cluster(lab, node, 'GetClusterQuorumCommand')
    q = lab.quorum
    return {'QuorumType': q.quorum_type, 'QuorumResource': q.resource or '',
            'QuorumResourceType': q.resource_type if q.resource else None,
            'QuorumResourceState': q.resource_state if q.resource else None}


def project_node(lab, n):
    info = OS_CATALOG[n.os]
    return {
        'Name': n.name, 'Id': n.id, 'State': n.state, 'DrainStatus': n.drain_status,
        'StatusInformation': 'Normal', 'NodeWeight': n.node_weight, 'DynamicWeight': lab.dynamic_weight(n),
        'MajorVersion': info['major'], 'MinorVersion': info['minor'], 'BuildNumber': info['build'],
        'NodeHighestVersion': lab.node_highest_version(n), 'NodeLowestVersion': lab.node_highest_version(n),
        'FaultDomain': list(n.fault_domain), 'Model': n.model, 'Manufacturer': n.manufacturer,
        'SerialNumber': n.serial,
    }


@operation('cluster.nodes')
def cluster_nodes(lab, node, params):
    _require_cluster(lab, node, 'GetNodeCommand')
    names = params.get('names') or []
    if not names:
        return [project_node(lab, n) for n in lab.nodes.values()]
    out = []
    for name in names:
        found = lab.node(name)
        if found is None:
            # Error 5042 ERROR_CLUSTER_NODE_NOT_FOUND; the PowerShell wording is UNVERIFIED.
            raise CmdletError('The cluster node was not found.',
                              'ClusterObjectNotFound,Microsoft.FailoverClusters.PowerShell.GetNodeCommand',
                              'ObjectNotFound', target=name, native_code=5042)
        out.append(project_node(lab, found))
    return out


def project_group(lab, g):
    return {
        'Name': g.name, 'Id': g.id, 'GroupType': g.group_type, 'GroupTypeValue': g.group_type_value,
        'OwnerNode': g.owner, 'State': g.state, 'Priority': g.priority, 'IsCoreGroup': g.is_core,
        'AutoFailbackType': g.auto_failback_type, 'PreferredOwners': list(g.preferred_owners),
    }


@operation('cluster.groups')
def cluster_groups(lab, node, params):
    _require_cluster(lab, node, 'GetClusterGroupCommand')
    return [project_group(lab, g) for g in lab.groups.values()]


@operation('cluster.csv')
def cluster_csv(lab, node, params):
    _require_cluster(lab, node, 'GetClusterSharedVolumeCommand')
    return [{'Name': v.name, 'Id': v.id, 'OwnerNode': v.owner, 'State': v.state, 'FriendlyVolumeName': v.path}
            for v in lab.shared_volumes]


def _clustered_storage_visible(lab, node):
    # Storage cmdlets on a cluster node act cluster-wide (Get-StorageJob doc). A node outside
    # membership sees no clustered pool; the lab returns nothing there (UNVERIFIED detail).
    return node.cluster_service == 'Running'


@operation('storage.pools')
def storage_pools(lab, node, params):
    if not _clustered_storage_visible(lab, node):
        return []
    return [{'FriendlyName': p.friendly_name, 'Version': p.version, 'HealthStatus': _code(HEALTH, p.health),
             'OperationalStatus': [_code(OPERATIONAL, c) for c in p.operational], 'IsReadOnly': False,
             'Size': p.size, 'AllocatedSize': p.allocated} for p in lab.pools]


@operation('storage.virtualdisks')
def storage_virtualdisks(lab, node, params):
    if not _clustered_storage_visible(lab, node):
        return []
    return [{'FriendlyName': d.friendly_name, 'HealthStatus': _code(HEALTH, d.health),
             'OperationalStatus': [_code(OPERATIONAL, c) for c in d.operational],
             'ResiliencySettingName': d.resiliency, 'Size': d.size, 'FootprintOnPool': d.footprint}
            for d in lab.virtual_disks]


@operation('storage.jobs')
def storage_jobs(lab, node, params):
    if not _clustered_storage_visible(lab, node):
        return []
    now = lab.clock.now()
    return [{'Name': j.name, 'JobState': _code(JOB_STATE, j.job_state), 'PercentComplete': j.percent,
             'BytesProcessed': j.bytes_processed, 'BytesTotal': j.bytes_total, 'IsBackgroundTask': j.is_background,
             'ElapsedTime': _elapsed(now - j.started)} for j in lab.storage_jobs]


@operation('cau.role')
def cau_role(lab, node, params):
    _require_cluster(lab, node, 'GetClusterGroupCommand')
    group = next((g for g in lab.groups.values() if g.group_type_value == 117), None)
    if group is None:
        return None
    if group.owner != node.name and not params.get('user'):
        # Get-CauClusterRole reads the role where it runs, over WMI/DCOM: from a WinRM session without
        # delegation that second hop is refused (windows-behaviour.md §2).
        raise CmdletError('Access is denied. (Exception from HRESULT: 0x80070005 (E_ACCESSDENIED))',
                          'UnauthorizedAccess,Microsoft.ClusterAwareUpdating.Commands.GetCauClusterRoleCommand',
                          'PermissionDenied', exception='System.UnauthorizedAccessException', native_code=5)
    return {'GroupName': group.name, 'OwnerNode': group.owner, 'State': group.state,
            'Parameters': dict(lab.cau_parameters)}


FAILBACK = {'Immediate': 'Immediate', 'Policy': 'Policy', 'NoFailback': 'NoFailback'}
TASK_MARK = '# wsfc.rolling windows update task 1'
LOCK_PROPERTY = 'WsfcRollingLock'
CLAIM_PREFIX = 'WsfcRollingClaim-'


def _node_param(lab, params, command):
    name = str(params.get('name') or '')
    node = lab.node(name)
    if node is None:
        raise maintenance.node_not_found(lab, name, command)
    return node


@operation('cluster.node.suspend')
def node_suspend(lab, node, params):
    _require_cluster(lab, node, 'SuspendClusterNodeCommand')
    target = _node_param(lab, params, 'Suspend-ClusterNode')
    maintenance.suspend(lab, target.name, drain=bool(params.get('drain', True)),
                        force_drain=bool(params.get('force_drain', False)), target=params.get('target') or None)
    return project_node(lab, target)


@operation('cluster.node.resume')
def node_resume(lab, node, params):
    _require_cluster(lab, node, 'ResumeClusterNodeCommand')
    target = _node_param(lab, params, 'Resume-ClusterNode')
    failback = str(params.get('failback'))
    if failback not in FAILBACK:
        # Parameter binding refuses values outside ResumeClusterNodeFailbackType.
        raise CmdletError("Cannot bind parameter 'Failback'. Cannot convert value \"%s\" to type "
                          "\"Microsoft.FailoverClusters.PowerShell.ResumeClusterNodeFailbackType\"." % failback,
                          'CannotConvertArgumentNoMessage,Microsoft.FailoverClusters.PowerShell.ResumeClusterNodeCommand',
                          'InvalidArgument', exception='System.Management.Automation.ParameterBindingException')
    maintenance.resume(lab, target.name, failback)
    return project_node(lab, target)


@operation('cluster.vm_move_policy')
def vm_move_policy(lab, node, params):
    _require_cluster(lab, node, 'GetClusterParameterCommand')
    return {'MoveTypeThreshold': lab.move_type_threshold}


@operation('cluster.vm_migration')
def vm_migration(lab, node, params):
    _require_cluster(lab, node, 'GetClusterGroupCommand')
    out = []
    for name in params.get('names') or []:
        group = lab.groups.get(name)
        state = group.migration_state if group is not None and group.group_type == 'VirtualMachine' else None
        out.append({'Name': name, 'MigrationState': state})
    return out


@operation('node.capacity')
def node_capacity(lab, node, params):
    vms = [{'Name': g.name, 'MemoryAssignedMB': g.memory_mb, 'State': 'Running' if g.state == 'Online' else 'Saved'}
           for g in lab.groups.values() if g.group_type == 'VirtualMachine' and g.owner == node.name]
    used = sum(v['MemoryAssignedMB'] for v in vms)
    return {'ComputerName': node.name, 'TotalMemoryMB': node.memory_mb,
            'FreeMemoryMB': node.memory_mb - node.host_reserve_mb // 2 - used, 'VMs': vms}


@operation('node.boot')
def node_boot(lab, node, params):
    info = OS_CATALOG[node.os]
    # Win32_OperatingSystem.LastBootUpTime is derived from the uptime counter and moves by up to a
    # second between reads without any restart (windows_exporter#74, elastic/beats#12591).
    jitter = (int(lab.clock.now() * 1000) % 997) / 997.0 * 0.9
    return {'ComputerName': node.name, 'LastBootUpTime': lab.clock.iso(node.boot_time + jitter), 'Now': lab.clock.iso(),
            'Caption': info['caption'], 'BuildNumber': info['build'], 'UBR': node.ubr,
            # While the cluster service is starting, Get-Service already says Running but the cluster's
            # endpoint is not registered yet (its cmdlets fail): the harsher reading, UNVERIFIED.
            'ClusterService': 'Running' if node.cluster_service in ('Running', 'Starting') else 'Stopped',
            'RebootPending': node.reboot_pending}


@operation('node.restart')
def node_restart(lab, node, params):
    maintenance.restart(lab, node)
    return {'LastBootUpTime': lab.clock.iso(node.boot_time), 'RestartScheduled': True}


def _job_view(job):
    if job is None:
        return None
    if not job['written']:
        # Get-WsfcUpdateJob before the task wrote its status file: what the task alone tells.
        return {'Id': job['Id'], 'TaskState': job['TaskState'], 'Phase': 'Starting', 'Progress': 0, 'Updates': [],
                'RebootRequired': False, 'Task': dict(job['Task'])}
    return dict((k, job[k]) for k in ('Id', 'TaskState', 'Phase', 'Progress', 'Updates', 'RebootRequired',
                                      'RestartPending', 'Started', 'Finished', 'Error'))


def _checked_id(params, key, longest, what):
    """The shim's check of an id that names files, tasks or properties: letters, digits, dashes."""
    value = str(params.get(key) or '')
    if not re.match(r'^[A-Za-z0-9-]{1,%d}$' % longest, value):
        raise CmdletError("Invalid %s '%s'." % (what, value), 'RuntimeException', 'OperationStopped',
                          exception='System.Management.Automation.RuntimeException')
    return value


def _job_id(params):
    return _checked_id(params, 'id', 64, 'job id')


@operation('wu.start')
def wu_start(lab, node, params):
    job_id = _job_id(params)
    if not str(params.get('task_script') or '').startswith(TASK_MARK):
        raise CmdletError('the lab runs only the wsfc.rolling Windows Update task', 'RuntimeException',
                          'OperationStopped', exception='System.Management.Automation.RuntimeException')
    criteria = {'categories': params.get('categories') or [], 'accept': params.get('accept') or [],
                'reject': params.get('reject') or [], 'serving': bool(params.get('serving'))}
    return _job_view(maintenance.wu_start(lab, node, job_id, str(params.get('mode')), criteria,
                                          adopt=bool(params.get('adopt'))))


@operation('wu.status')
def wu_status(lab, node, params):
    job_id = _job_id(params)
    job = lab.wu_jobs.get((node.name, job_id))
    if job is None:
        raise CmdletError("No Windows Update job '%s' on this node." % job_id, 'ItemNotFoundException',
                          'ObjectNotFound', exception='System.Management.Automation.ItemNotFoundException')
    view = _job_view(job)
    if params.get('remove') and view['Phase'] in ('Completed', 'Failed'):
        job['TaskState'] = view['TaskState'] = 'Removed'
    return view


# -- the run lock: private properties of the cluster object (powershell/shim/50-lock.ps1) ---------
# Each read or write of a property is one step: lab.property_step, when set, is called before each,
# so a test can interleave several contenders' operations step by step (on Windows two controllers'
# Get-ClusterParameter and Set-ClusterParameter calls interleave freely: nothing makes them atomic).

def _props(lab, prefix):
    if lab.property_step:
        lab.property_step()
    return dict((k, v) for k, v in lab.cluster_params.items() if k.startswith(prefix))


def _set_prop(lab, name, value):
    if lab.property_step:
        lab.property_step()
    if value is None:
        lab.cluster_params.pop(name, None)
    else:
        lab.cluster_params[name] = str(value)
    if name == LOCK_PROPERTY:
        lab.recorder.record('lock.changed', value=value)


def _lock_value(lab):
    return _props(lab, LOCK_PROPERTY).get(LOCK_PROPERTY)


def _claim_token(params):
    return _checked_id(params, 'claim', 80, 'lock claim token')


def _fresh_claims(lab, stale_seconds):
    fresh = {}
    for name, text in _props(lab, CLAIM_PREFIX).items():
        try:
            claim = json.loads(text)
            age = lab.clock.now() - lab.clock.parse_iso(claim['at'])
        except (ValueError, KeyError, TypeError):
            claim, age = None, float('inf')
        if age > stale_seconds:
            _set_prop(lab, name, None)
            continue
        fresh[name[len(CLAIM_PREFIX):]] = claim
    return fresh


def _claim_text(lab, params, ticket):
    return json.dumps({'run_id': str(params.get('run_id')), 'owner': str(params.get('owner')), 'ticket': ticket,
                       'at': lab.clock.iso()})


@operation('lock.read')
def lock_read(lab, node, params):
    _require_cluster(lab, node, 'GetClusterParameterCommand')
    return {'Value': _lock_value(lab), 'Now': lab.clock.iso()}


@operation('lock.claim')
def lock_claim(lab, node, params):
    _require_cluster(lab, node, 'SetClusterParameterCommand')
    token = _claim_token(params)
    stale = int(params.get('stale_seconds', 120))
    _set_prop(lab, CLAIM_PREFIX + token, _claim_text(lab, params, None))
    tickets = [c['ticket'] for c in _fresh_claims(lab, stale).values() if c and c.get('ticket') is not None]
    ticket = max(tickets + [0]) + 1
    _set_prop(lab, CLAIM_PREFIX + token, _claim_text(lab, params, ticket))
    return {'Ticket': ticket, 'Value': _lock_value(lab), 'Now': lab.clock.iso()}


@operation('lock.unclaim')
def lock_unclaim(lab, node, params):
    _require_cluster(lab, node, 'SetClusterParameterCommand')
    name = CLAIM_PREFIX + _claim_token(params)
    exists = name in _props(lab, name)
    _set_prop(lab, name, None)
    return {'Withdrawn': exists}


@operation('lock.cas')
def lock_cas(lab, node, params):
    _require_cluster(lab, node, 'SetClusterParameterCommand')
    outcome, holder, token = 'Done', None, None
    if params.get('claim') is not None:
        token = _claim_token(params)
        claims = _fresh_claims(lab, int(params.get('stale_seconds', 120)))
        mine = claims.get(token)
        if not mine or mine.get('ticket') is None:
            outcome = 'ClaimLost'
        else:
            for other, claim in claims.items():
                if other == token:
                    continue
                if claim is None or claim.get('ticket') is None:
                    outcome = 'Busy'
                elif outcome != 'Busy' and (claim['ticket'], other) < (mine['ticket'], token):
                    outcome = 'Lost'
                    holder = {'run_id': claim.get('run_id'), 'owner': claim.get('owner')}
    current = _lock_value(lab)
    swapped = False
    if outcome == 'Done' and current == params.get('expect'):
        value = params.get('value')
        _set_prop(lab, LOCK_PROPERTY, value)
        swapped, current = True, value
    if token is not None and outcome in ('Done', 'Lost'):
        _set_prop(lab, CLAIM_PREFIX + token, None)
    return {'Swapped': swapped, 'Value': current, 'Now': lab.clock.iso(), 'Outcome': outcome, 'Holder': holder}


CAPTURE_PREFIX = 'WsfcRollingCapture-'


def _capture_name(params):
    return CAPTURE_PREFIX + _checked_id(params, 'node', 63, 'node name').upper()


@operation('capture.read')
def capture_read(lab, node, params):
    # A private property of the cluster object, as the run lock (windows-behaviour.md §17).
    _require_cluster(lab, node, 'GetClusterParameterCommand')
    name = _capture_name(params)
    return {'Value': _props(lab, name).get(name)}


@operation('capture.write')
def capture_write(lab, node, params):
    _require_cluster(lab, node, 'SetClusterParameterCommand')
    name = _capture_name(params)
    _set_prop(lab, name, str(params.get('value')))
    lab.recorder.record('capture.written', node=name[len(CAPTURE_PREFIX):])
    return {'Written': True}


@operation('cau.run_state')
def cau_run_state(lab, node, params):
    _require_cluster(lab, node, 'GetClusterCommand')
    # Get-CauRun: RunNotInProgress, or RunInProgress and the run with each node's state (windows-behaviour.md §13).
    run = lab.cau_run
    if run is None and lab.cau_leftover is not None:
        # A run that failed and left the cluster locked (ALS-CCR): RunFailed until -ForceRecovery.
        return {'RunState': 'RunFailed', 'RunId': lab.cau_leftover, 'CurrentOrchestrator': None, 'Nodes': []}
    if run is None:
        return {'RunState': 'RunNotInProgress', 'RunId': None, 'CurrentOrchestrator': None, 'Nodes': []}
    view = run.view()
    return {'RunState': 'RunInProgress', 'RunId': view['RunId'], 'CurrentOrchestrator': view['CurrentOrchestrator'],
            'Nodes': view['NodeStatusNotifications']}


# Invoke-CauRun parameters that appear only in the Windows Server 2025 edition of its help (windows-behaviour.md
# §13), and those the lab also withholds from releases before Windows Server 2022 (UNVERIFIED: the harsher reading).
CAU_2025_PARAMETERS = ('WaitForStorageRepairTimeoutMinutes', 'SuspendRetriesPerNode')
CAU_2022_PARAMETERS = ('AttemptSoftReboot', 'RebootMode', 'OsRollingUpgrade')
CAU_PARAMETERS = ('MaxFailedNodes', 'MaxRetriesPerNode', 'NodeOrder', 'PreUpdateScript', 'PostUpdateScript',
                  'RequireAllNodesOnline', 'RebootTimeoutMinutes', 'EnableFirewallRules', 'FailbackMode',
                  'ForceSelfUpdate', 'CauPluginName', 'CauPluginArguments') + CAU_2022_PARAMETERS + CAU_2025_PARAMETERS


def cau_parameters(node):
    level = node.os_info['level']
    return [p for p in CAU_PARAMETERS if not ((p in CAU_2025_PARAMETERS and level < 12) or (p in CAU_2022_PARAMETERS and level < 11))]


@operation('cau.run_start')
def cau_run_start(lab, node, params):
    _require_cluster(lab, node, 'InvokeCauRunCommand')
    missing = [p for p in sorted(params.get('parameters') or {}) if p not in cau_parameters(node)]
    if missing:
        raise CmdletError("This node's Invoke-CauRun (build %d) has no parameter %s." % (node.os_info['build'], ', '.join(missing)),
                          'WsfcCauParameterMissing', 'InvalidArgument', exception='System.ArgumentException')
    state = cau_run_state(lab, node, {})
    if state['RunState'] != 'RunNotInProgress':
        raise CmdletError('Cluster-Aware Updating reports %s (run %s): no Updating Run is started.' % (state['RunState'], state['RunId']),
                          'WsfcCauBusy', 'ResourceBusy', exception='System.InvalidOperationException')
    delegate = params.get('user')
    if not delegate or not credential_valid(lab, delegate, params.get('password')):
        raise CmdletError('The user name or password is incorrect.', 'RegisterTask', 'PermissionDenied',
                          exception='Microsoft.Management.Infrastructure.CimException', native_code=1326)
    task = lab.cau_task = {'Phase': 'Starting', 'Error': None, 'Started': lab.clock.iso(), 'Ended': None, 'node': node.name}
    options = dict(params.get('parameters') or {})
    options['plugin'] = (params.get('plugin') or {}).get('name')
    options['arguments'] = (params.get('plugin') or {}).get('arguments') or {}

    def started():
        # The task's Invoke-CauRun: a refusal ends the task with its error (the lab's CauRun is the run).
        try:
            run = cau.invoke(lab, node, options)
        except CmdletError as exc:
            task.update(Phase='Failed', Error=str(exc), Ended=lab.clock.iso())
            return
        task.update(Phase='Running', run=run)
    lab.clock.after(maintenance.TASK_START_SECONDS, started)
    return {'ComputerName': node.name, 'Started': True}


@operation('cau.run_task')
def cau_run_task(lab, node, params):
    task = lab.cau_task if lab.cau_task and lab.cau_task['node'] == node.name else None
    if task is None:
        return {'Phase': None, 'Error': None, 'Started': None, 'Ended': None, 'Task': None}
    run = task.get('run')
    if task['Phase'] == 'Running' and run is not None and run.finished:
        task.update(Phase='Finished', Ended=lab.clock.iso())
    running = task['Phase'] in ('Starting', 'Running')
    return {'Phase': task['Phase'], 'Error': task['Error'], 'Started': task['Started'], 'Ended': task['Ended'],
            'Task': {'State': 'Running' if running else 'Ready',
                     'LastTaskResult': maintenance.TASK_RUNNING if running else (1 if task['Phase'] == 'Failed' else 0),
                     'LastRunTime': task['Started']}}


@operation('cau.report')
def cau_report(lab, node, params):
    _require_cluster(lab, node, 'GetCauReportCommand')
    # Get-CauReport -Last -Detailed: $null before the first run (the "0 Day scenario").
    return lab.cau_reports[-1] if lab.cau_reports else None


@operation('cau.role_add')
def cau_role_add(lab, node, params):
    _require_cluster(lab, node, 'AddCauClusterRoleCommand')
    cau.add_role(lab, node, params)
    return {'Done': True}


@operation('cau.role_set')
def cau_role_set(lab, node, params):
    _require_cluster(lab, node, 'SetCauClusterRoleCommand')
    cau.set_role(lab, params)
    return {'Done': True}


@operation('cau.role_enable')
def cau_role_enable(lab, node, params):
    _require_cluster(lab, node, 'EnableCauClusterRoleCommand')
    cau.enable_role(lab, bool(params.get('enabled')))
    return {'Done': True}


@operation('cau.role_remove')
def cau_role_remove(lab, node, params):
    _require_cluster(lab, node, 'RemoveCauClusterRoleCommand')
    cau.remove_role(lab)
    return {'Done': True}


# CAU's Best Practices Analyzer rules (titles as the CAU requirements page lists them, windows-behaviour.md §13).
BPA_RULES = ('The failover cluster must be available', 'The Cluster service should be running on all cluster nodes',
             'The CAU clustered role should be installed on the failover cluster to enable self-updating mode',
             'A firewall rule that allows remote shutdown should be enabled on each node in the failover cluster')


@operation('cau.setup_test')
def cau_setup_test(lab, node, params):
    _require_cluster(lab, node, 'TestCauSetupCommand')
    down = [n.name for n in lab.nodes.values() if n.state == 'Down']
    role = next((g for g in lab.groups.values() if g.group_type_value == 117), None)
    planted = lab.faults.get('cau_setup') or {}
    rows = []
    for title in BPA_RULES:
        severity, problem, resolution = 'Information', '', ''
        if title.startswith('The Cluster service') and down:
            severity, problem = 'Error', 'The Cluster service is not running on %s.' % ', '.join(down)
            resolution = 'Start the Cluster service on every node.'
        elif title.startswith('The CAU clustered role') and role is None:
            severity, problem = 'Warning', 'The CAU clustered role is not installed.'
            resolution = 'Add it with Add-CauClusterRole to use self-updating mode.'
        if title in planted:
            severity, problem, resolution = planted[title]['severity'], planted[title]['problem'], planted[title].get('resolution', '')
        rows.append({'Severity': severity, 'Title': title, 'Problem': problem, 'Resolution': resolution})
    return rows


@operation('cau.recover')
def cau_recover(lab, node, params):
    _require_cluster(lab, node, 'InvokeCauRunCommand')
    return {'Recovered': cau.recover(lab)}


# -- the fast offline update (tests/lab/offline.py) ----------------------------------------------

@operation('cluster.group_stop')
def cluster_group_stop(lab, node, params):
    _require_cluster(lab, node, 'StopClusterGroupCommand')
    return offline.group_stop(lab, [str(n) for n in params.get('names') or []])


@operation('cluster.group_start')
def cluster_group_start(lab, node, params):
    _require_cluster(lab, node, 'StartClusterGroupCommand')
    return offline.group_start(lab, [str(n) for n in params.get('names') or []])


@operation('cluster.stop')
def cluster_stop(lab, node, params):
    _require_cluster(lab, node, 'StopClusterCommand')
    offline.stop_cluster(lab)
    return {'Stopped': True}


@operation('cluster.start')
def cluster_start(lab, node, params):
    # Start-Cluster works where the cluster service is stopped (it starts it).
    offline.start_cluster(lab)
    return {'Started': True}


@operation('node.cluster_startup')
def node_cluster_startup(lab, node, params):
    if params.get('mode'):
        node.cluster_startup = str(params['mode'])
        lab.recorder.record('node.cluster_startup', node=node.name, mode=node.cluster_startup)
    return {'ComputerName': node.name, 'StartupType': node.cluster_startup,
            'Status': 'Running' if node.cluster_service in ('Running', 'Starting') else 'Stopped'}


@operation('offline.state')
def offline_state(lab, node, params):
    if params.get('clear'):
        node.offline_record = None
    if params.get('value') is not None:
        node.offline_record = str(params['value'])
    return {'ComputerName': node.name, 'Value': node.offline_record}


# Test-Cluster categories (PS:Test-Cluster; windows-behaviour.md §13).
VALIDATION_CATEGORIES = ('Inventory', 'Network', 'System Configuration', 'Cluster Configuration', 'Hyper-V Configuration',
                         'Storage', 'Storage Spaces Direct')


@operation('cluster.validate')
def cluster_validate(lab, node, params):
    _require_cluster(lab, node, 'TestClusterCommand')
    names = [str(n) for n in params.get('nodes') or lab.nodes]
    out = []
    for index, category in enumerate(params.get('categories') or []):
        warnings, errors = [], []
        if category not in VALIDATION_CATEGORIES:
            errors.append("The test category '%s' was not found." % category)
        for name in names:
            n = lab.node(name)
            if n is None or n.state == 'Down':
                errors.append('Node %s could not be reached or is not a cluster member: its tests did not run.' % name)
            elif category == 'Cluster Configuration' and n.state == 'Paused':
                warnings.append('Node %s is paused.' % name)
        if category == 'Storage':
            disks = params.get('disks') or []
            if disks:
                # -Force with -Disk takes those disks offline for the tests: whatever runs on them stops.
                lab.recorder.violation('validation_took_disks_offline', disks=list(disks))
            else:
                warnings.append('Disks and pools in use by clustered roles were skipped: the storage tests ran only on '
                                'disks not in use.')
        if category == 'Storage Spaces Direct' and not lab.s2d_enabled:
            warnings.append('Storage Spaces Direct is not enabled on this cluster.')
        planted = (lab.faults.get('validation') or {}).get(category)
        if planted:
            (errors if planted.get('level') == 'error' else warnings).append(planted['message'])
        lab.recorder.record('cluster.validated', category=category, warnings=len(warnings), errors=len(errors))
        stamp = lab.clock.iso()[:19].replace(':', '').replace('-', '')
        out.append({'Category': category, 'Warnings': warnings, 'Errors': errors,
                    'Report': r'C:\Windows\Cluster\Reports\wsfc-rolling-validate-%s-%d.htm' % (stamp, index + 1)})
    return out


@operation('cau.scan')
def cau_scan(lab, node, params):
    _require_cluster(lab, node, 'GetClusterCommand')
    if params.get('user') and not credential_valid(lab, params.get('user'), params.get('password')):
        raise CmdletError('The user name or password is incorrect.', 'UnauthorizedAccess,Microsoft.ClusterAwareUpdating.'
                          'Commands.InvokeCauScanCommand', 'PermissionDenied', exception='System.UnauthorizedAccessException',
                          native_code=1326)
    if not params.get('user') and len(lab.nodes) > 1:
        # Invoke-CauScan scans every node remotely: from a WinRM session without delegation that is a
        # second hop, refused without -Credential (windows-behaviour.md §2; wording UNVERIFIED).
        raise CmdletError('Access is denied. (Exception from HRESULT: 0x80070005 (E_ACCESSDENIED))',
                          'UnauthorizedAccess,Microsoft.ClusterAwareUpdating.Commands.InvokeCauScanCommand',
                          'PermissionDenied', exception='System.UnauthorizedAccessException', native_code=5)
    if params.get('plugin') not in ('Microsoft.WindowsUpdatePlugin', 'Microsoft.HotfixPlugin'):
        raise CmdletError("The plug-in '%s' is not registered." % params.get('plugin'), 'PluginNotFound',
                          'ObjectNotFound', exception='Microsoft.ClusterAwareUpdating.CauException')
    rows = []
    for n in lab.nodes.values():
        if n.state == 'Down':
            continue
        for u in n.updates:
            rows.append({'NodeName': n.name, 'UpdateTitle': u.title, 'UpdateId': u.kb})
    return rows


# -- machine configuration, membership, upgrade, finalize (issue 4) ------------------------------

@operation('node.doctor')
def node_doctor(lab, node, params):
    info = OS_CATALOG[node.os]
    modules = ['FailoverClusters', 'Storage', 'Hyper-V'] + (['ClusterAwareUpdating'] if node.cau_tools else [])
    return {'ComputerName': node.name, 'PSVersion': '5.1.%d.1' % info['build'], 'Modules': modules,
            'WindowsUpdateService': {'State': 'Running', 'StartMode': 'Manual'}, 'TaskScheduler': 'Running',
            'ExecutionPolicy': {'MachinePolicy': 'Undefined', 'UserPolicy': 'Undefined'}, 'CredSSPService': False,
            'PasswordStorageDisabled': node.name in (lab.faults.get('password_storage_policy') or []),
            'TimeSource': 'DC01.%s' % lab.domain, 'TimeOffsetSeconds': float((lab.faults.get('clock_skew') or {}).get(node.name, 0.0004)),
            'Now': lab.clock.iso()}


# The address of the cluster's IP Address resource (documentation range, RFC 5737: data only).
CLUSTER_IP = '192.0.2.100'


@operation('node.config')
def node_config(lab, node, params):
    c = node.config
    # Get-NetIPAddress shows the cluster's address on the node that owns the core group.
    member = node.name in lab.nodes and node.cluster_service == 'Running'
    addresses = [dict(a) for a in c.get('ip_addresses', [])]
    if member and lab.core_group().owner == node.name:
        addresses.append({'InterfaceAlias': 'vEthernet (Management)', 'IPAddress': CLUSTER_IP, 'PrefixLength': 24})
    return {'ComputerName': node.name, 'Caption': node.os_info['caption'], 'BuildNumber': node.os_info['build'],
            'ClusterAddresses': [CLUSTER_IP] if member else [],
            'Adapters': [dict(a) for a in c.get('adapters', [])], 'IPAddresses': addresses,
            'VMSwitches': [dict(a) for a in c.get('vswitches', [])], 'Disks': [dict(a) for a in c.get('disks', [])],
            'Features': list(c.get('features', [])),
            'ClusterService': 'Running' if node.cluster_service == 'Running' else 'Stopped'}


# Operations whose cmdlets need a delegated credential from a remote session (windows-behaviour.md §2),
# with the cmdlet class named in the error.
DELEGATED = {'cluster.node.remove': 'RemoveClusterNode', 'cluster.node.add': 'AddClusterNode',
             'cluster.group.move': 'MoveClusterVirtualMachineRole'}


# What FailoverClusters writes to the host in a remote session before cmdlets that reach other nodes
# (the cmdlets whose help carries the CredSSP note). It arrives as CLIXML on stderr next to a
# successful result. Wording as commonly reported; when exactly Windows prints it is UNVERIFIED, so
# the lab prints it for every request with such an operation (windows-behaviour.md §3).
REMOTE_WARNING = ('If you are running Windows PowerShell remotely, note that some failover clustering cmdlets do not '
                  'work remotely. When possible, run the cmdlet locally and specify a remote computer as the target. '
                  'To run the cmdlet remotely, try using the Credential Security Service Provider (CredSSP). All '
                  'additional errors or warnings from this cmdlet might be caused by running it remotely.')


def host_warnings(request):
    """The warnings PowerShell would write to the host (stderr) while running ``request``."""
    if any(call.get('op') in DELEGATED for call in request.get('calls', [])):
        return [REMOTE_WARNING]
    return []


def credential_valid(lab, user, password):
    """A domain credential (DOMAIN\\user, user@domain or user) with its right password."""
    user = str(user or '')
    known = dict((k.lower(), v) for k, v in lab.users.items())
    short = user.rsplit('\\', maxsplit=1)[-1].split('@')[0].lower()
    expected = known.get(user.lower(), known.get('%s\\%s' % (lab.domain.split('.')[0].lower(), short)))
    return expected is not None and expected == password


def check_delegation(lab, node, op, delegate):
    """No delegation (the lab's Basic/NTLM logons never delegate): the cmdlet cannot reach the
    other nodes. With the scheduled-task method the task's logon checks the password."""
    if not delegate:
        # The wording of the double-hop failure is UNVERIFIED (windows-behaviour.md §2); access denied.
        raise CmdletError('You do not have administrative privileges on the cluster. Contact your network administrator '
                          'to request access.\n    Access is denied', 'ClusterAccessDenied,Microsoft.FailoverClusters.'
                          'PowerShell.%sCommand' % DELEGATED[op], 'PermissionDenied', native_code=5)
    if not credential_valid(lab, delegate.get('user'), delegate.get('password')):
        raise CmdletError('The user name or password is incorrect.', 'HRESULT 0x8007052e,Register-ScheduledTask',
                          'AuthenticationError', exception='Microsoft.Management.Infrastructure.CimException',
                          native_code=1326)
    if node.name in (lab.faults.get('password_storage_policy') or []):
        # Registering a TASK_LOGON_PASSWORD task where "Network access: Do not allow storage of
        # passwords and credentials" is enabled (windows-behaviour.md §11).
        raise CmdletError('A specified logon session does not exist. It may already have been terminated.',
                          'HRESULT 0x80070520,Register-ScheduledTask', 'NotSpecified',
                          exception='Microsoft.Management.Infrastructure.CimException', native_code=1312)
    failing = (lab.faults.get('task_fails') or {}).get(node.name)
    if failing is not None:
        # The shim's Invoke-WsfcShortTask sees the task back to Ready with a result and no output.
        raise CmdletError("The scheduled task 'wsfc.rolling delegated %s' ended with result 0x%08X without writing its "
                          "output (see the Microsoft-Windows-TaskScheduler/Operational log; an execution policy set by "
                          "Group Policy or a missing 'Log on as a batch job' right are common causes)." % (
                              lab.next_id(), int(failing) & 0xFFFFFFFF), 'RuntimeException', 'OperationStopped',
                          exception='System.Management.Automation.RuntimeException')


@operation('cluster.node.remove')
def node_remove(lab, node, params):
    _require_cluster(lab, node, 'RemoveClusterNodeCommand')
    provisioning.evict(lab, str(params.get('name') or ''))
    return None


@operation('cluster.node.add')
def node_add(lab, node, params):
    added = provisioning.add(lab, node, str(params.get('cluster') or ''), str(params.get('name') or ''))
    return project_node(lab, added)


@operation('cluster.group.move')
def group_move(lab, node, params):
    _require_cluster(lab, node, 'MoveClusterVirtualMachineRoleCommand')
    moved = provisioning.move_groups(lab, [str(n) for n in params.get('names') or []], str(params.get('owner') or ''))
    return [project_group(lab, g) for g in moved]


@operation('cluster.functional_level')
def functional_level(lab, node, params):
    _require_cluster(lab, node, 'UpdateClusterFunctionalLevelCommand')
    what_if = bool(params.get('what_if', True))
    provisioning.update_functional_level(lab, what_if)
    return {'ClusterFunctionalLevel': lab.functional_level, 'ClusterUpgradeVersion': lab.upgrade_version,
            'WhatIf': what_if}


@operation('storage.pool_update')
def pool_update(lab, node, params):
    if not _clustered_storage_visible(lab, node):
        raise cluster_service_not_running('UpdateStoragePool')
    pool = provisioning.update_pool(lab, params.get('name'))
    return {'FriendlyName': pool.friendly_name, 'Version': pool.version}


def _vm_view(group):
    return {'Name': group.name, 'State': 'Running' if group.state == 'Online' else 'Off', 'Version': group.vm_version}


@operation('vm.list')
def vm_list(lab, node, params):
    default = provisioning.VM_VERSION[provisioning.LEVEL_OS[min(lab.functional_level, node.os_info['level'])]]
    return [dict(_vm_view(g), HostDefault=default)
            for g in lab.groups.values() if g.group_type == 'VirtualMachine' and g.owner == node.name]


@operation('vm.update_version')
def vm_update_version(lab, node, params):
    return _vm_view(provisioning.update_vm_version(lab, node, str(params.get('name') or ''), bool(params.get('allow_stop'))))


@operation('node.media')
def node_media(lab, node, params):
    media = str(params.get('media') or '')
    checked_as = 'SYSTEM' if media.startswith('\\\\') else 'session'
    if media not in lab.setup_media:
        if checked_as == 'SYSTEM':
            message = ("setup.exe cannot be read at '%s' by this node's computer account (%s$), which is how setup "
                       "(running as SYSTEM) reads a share. Grant Domain Computers (or %s$) read access to the share, "
                       "or copy the media to a local path on the node." % (media, node.name, node.name))
        else:
            message = "Setup media not found at '%s': no setup.exe there on this node." % media
        raise CmdletError(message, 'PathNotFound', 'ObjectNotFound', exception='System.Management.Automation.ItemNotFoundException',
                          target=media)
    return {'ComputerName': node.name, 'Media': media, 'Setup': media + '\\setup.exe', 'CheckedAs': checked_as}


OS_TASK_MARK = '# wsfc.rolling os upgrade task 1'


@operation('node.os_upgrade')
def node_os_upgrade(lab, node, params):
    if not str(params.get('task_script') or '').startswith(OS_TASK_MARK):
        raise CmdletError('the lab runs only the wsfc.rolling OS upgrade task', 'RuntimeException',
                          'OperationStopped', exception='System.Management.Automation.RuntimeException')
    provisioning.inplace_upgrade(lab, node, str(params.get('media') or ''))
    return {'ComputerName': node.name, 'Started': True}


@operation('node.os_upgrade_status')
def node_os_upgrade_status(lab, node, params):
    job = lab.os_jobs.get(node.name)
    if job is None:
        return {'Phase': None, 'ImageIndex': None, 'Edition': None, 'ExitCode': None, 'LogPath': None, 'Error': None,
                'Task': None}
    running = job['Phase'] in ('Choosing image', 'Running setup')
    task = {'State': 'Running' if running else 'Ready', 'LastTaskResult': 0x41301 if running else 0,
            'LastRunTime': lab.clock.iso()}
    return dict(job, Task=task)


# How long (Windows time) the cmdlets behind an operation take beyond the PowerShell start-up of each
# request; the output arrives only then. Figures are lab choices where no source gives one (UNVERIFIED);
# Invoke-CauScan contacts Windows Update on every node and "takes minutes" (windows-behaviour.md, CAU).
OP_SECONDS = {
    'cau.scan': 'cau_scan_seconds',
    'cluster.node.add': 'add_node_seconds',
    'cluster.node.remove': 'evict_node_seconds',
    'cluster.functional_level': 'functional_level_seconds',
    'storage.pool_update': 'pool_update_seconds',
    'node.doctor': 'doctor_seconds',
    'cluster.validate': 'validate_seconds',
    'cau.setup_test': 'cau_scan_seconds',
}


def request_seconds(lab, request, start=True):
    """Windows time one request takes: powershell.exe and the modules starting (``start``: the first request
    of a process; a warm process pays it once), then each call."""
    seconds = lab.timings['powershell_start_seconds'] if start else 0.0
    calls = (request or {}).get('calls', []) if isinstance(request, dict) else []
    for call in calls:
        key = OP_SECONDS.get(call.get('op'))
        if key:
            seconds += lab.timings[key]
    if lab.weather is not None:
        seconds += lab.weather.slow_seconds(ops=[c.get('op') for c in calls])
    return lab.vary(seconds)


SHIM_OPERATION = re.compile(r"^\$WsfcOperations\['([a-z0-9._]+)'\] = \{", re.M)


def shim_operations(shim_text):
    """The operation names a shim text defines (what PowerShell would find in $WsfcOperations)."""
    return set(SHIM_OPERATION.findall(shim_text))


def _identity_mismatch(lab, node, expect):
    """The shim's Get-WsfcIdentityMismatch: computer name, then the node id where the cluster service runs."""
    expected = str(expect.get('computer') or '')
    if expected and expected.lower() != node.name.lower():
        return {'expected': expected, 'actual': node.name}
    node_id = str(expect.get('node_id') or '')
    if node_id and node.cluster_service == 'Running' and lab.node(node.name) is not None and node.id != node_id:
        return {'expected': expected, 'actual': node.name, 'expected_node_id': node_id, 'actual_node_id': node.id}
    return None


def execute(lab, node, request, defined_ops):
    """Run a decoded request as the shim would on ``node``; returns the response document."""
    results = []
    identity = _identity_mismatch(lab, node, request.get('expect') or {})
    if identity:
        # The shim's identity check: nothing runs on another machine.
        lab.recorder.record('rpc.wrong_node', node=node.name, expected=identity['expected'])
        return {'protocol': 1, 'computer': node.name, 'results': [], 'identity': identity}
    with lab.lock:
        lab.advance()
        for call in request.get('calls', []):
            op = call.get('op')
            result = {'id': call.get('id'), 'op': op, 'ok': True, 'value': None, 'warnings': []}
            if op not in defined_ops or op not in OPERATIONS:
                result.update(ok=False, error={
                    'category': 'InvalidArgument', 'fqid': 'WsfcUnknownOperation',
                    'message': "Unknown operation '%s'." % op, 'target': op,
                    'exception': 'System.ArgumentException', 'native_code': None})
            else:
                try:
                    if op in DELEGATED:
                        check_delegation(lab, node, op, request.get('delegate'))
                    result['value'] = OPERATIONS[op](lab, node, call.get('params') or {})
                except CmdletError as exc:
                    result.update(ok=False, error=dict(exc.record))
                if op in (lab.faults.get('unwritable_result') or []) and result['ok']:
                    # A value ConvertTo-Json cannot write (a property that throws when read): the
                    # shim's ConvertTo-WsfcWritable answers with this error for that call alone.
                    result.update(ok=False, value=None, error={
                        'category': 'InvalidResult', 'fqid': 'WsfcUnwritableResult',
                        'message': "The result of '%s' could not be written as JSON: Exception getting "
                                   "\"Value\": \"The handle is invalid.\"" % op,
                        'target': op, 'exception': 'System.Management.Automation.GetValueInvocationException',
                        'native_code': None})
            lab.recorder.record('rpc.call', node=node.name, op=op, ok=result['ok'], delegated=bool(request.get('delegate')))
            results.append(result)
            if not result['ok'] and request.get('stop_on_error'):
                break
    return {'protocol': 1, 'computer': node.name, 'results': results}
