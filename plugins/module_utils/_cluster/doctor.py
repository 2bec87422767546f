# -*- coding: utf-8 -*-
# Copyright: (c) 2026, wsfc.rolling developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The doctor: what a rolling run needs of a cluster, checked read-only, each finding with its fix.

Covers what Test-CauSetup and the Microsoft procedures check before an update run (every node Up
and reachable, quorum with margin, storage healthy, no restart pending, the Windows Update service
usable, the CAU role and no CAU run in progress) and what this collection needs on top (WinRM with
the chosen transport and certificate validation on the cluster name and every node, PowerShell 5.1
and the cluster modules, the double hop where it is needed, scheduled tasks that can run, the
clock, the run lock, the BMCs). Nothing is changed.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

from ansible_collections.wsfc.rolling.plugins.module_utils._cluster import lock as run_lock
from ansible_collections.wsfc.rolling.plugins.module_utils._cluster.queries import read_cluster_state
from ansible_collections.wsfc.rolling.plugins.module_utils._errors import (
    AuthenticationFailure, CollectionError, ConnectionFailure, TimeoutFailure, WrongNode)
from ansible_collections.wsfc.rolling.plugins.module_utils._winrm.runner import PowerShellRunner

OK, WARNING, ERROR = 'ok', 'warning', 'error'
# Kerberos refuses tickets beyond 5 minutes of skew; a run's lock ages and deadlines are read on the
# cluster's clock, the controller's clock times the waits.
SKEW_WARNING, SKEW_ERROR = 60, 300
REQUIRED_MODULES = ('FailoverClusters',)


class Findings(object):
    def __init__(self):
        self.items = []

    def add(self, check, target, status, detail, fix=None):
        self.items.append({'check': check, 'target': target, 'status': status, 'detail': detail, 'fix': fix})

    @property
    def problems(self):
        return [f for f in self.items if f['status'] == ERROR]

    @property
    def warnings(self):
        return [f for f in self.items if f['status'] == WARNING]


def connection_fix(exc, what):
    """What to change when WinRM to ``what`` fails with ``exc``."""
    text = str(exc)
    if isinstance(exc, WrongNode):
        return 'fix the address of %s in the inventory (wsfc_winrm_host) or in DNS' % what
    if isinstance(exc, AuthenticationFailure):
        return 'check wsfc_winrm_user / wsfc_winrm_password (DOMAIN\\user) and that the account is a local administrator'
    if 'TLS' in text or 'certificate' in text.lower():
        return ('give the CA that issued the WinRM certificates in wsfc_winrm_ca_path (each node has its own certificate; '
                'the cluster name validates only where the certificate names it)')
    if 'refused' in text:
        return 'start WinRM with an HTTPS listener on %s (winrm quickconfig -transport:https), or open port 5986' % what
    return 'make %s reachable from the controller on the WinRM port (firewall, DNS, the machine running)' % what


def check_cluster(options, findings, inventory_nodes, lock_stale_after, cau_required, runner_factory, max_skew=SKEW_WARNING,
                  check_controller_clock=True, now=None, fallback_host=None):
    """The cluster as a whole, through the cluster name (one round trip), then the CAU run state; through
    ``fallback_host`` when the cluster name's certificate does not name it."""
    target = options.host
    try:
        with runner_factory(options) as runner:
            state = read_cluster_state(runner, lock_stale_after=lock_stale_after)
            calls = [('cau.run_state', {}), ('lock.read', {})]
            if cau_required:
                # CAU's own readiness checks (its Best Practices Analyzer), with the credential CAU reaches the nodes with.
                calls.append(('cau.setup_test', {'user': options.user, 'password': options.password} if options.user else {}))
            results = runner.invoke(calls)
            cau_run, clock = results[:2]
    except (ConnectionFailure, TimeoutFailure, AuthenticationFailure) as exc:
        if exc.details.get('certificate') and 'does not name' in str(exc) and fallback_host:
            # HTTPS to the cluster name reaches a node's listener, whose certificate names the node: every
            # module then goes on to the nodes. Worth knowing, not a reason to stop.
            findings.add('winrm', target, WARNING, "the cluster name's HTTPS certificate does not name it; the "
                         "collection reaches the cluster through the nodes (%s)" % exc,
                         "add the cluster name to the nodes' WinRM certificates (subject alternative name) to use it")
            return check_cluster(options.replace(host=fallback_host), findings, inventory_nodes, lock_stale_after,
                                 cau_required, runner_factory, max_skew, check_controller_clock, now)
        findings.add('winrm', target, ERROR, 'the cluster name does not answer WinRM: %s' % exc, connection_fix(exc, target))
        return None
    except CollectionError as exc:
        findings.add('cluster', target, ERROR, 'the cluster could not be read: %s' % exc,
                     'check that the cluster service runs on the node that answers and that the account administers it')
        return None
    if check_controller_clock and clock.ok:
        skew = (run_lock.parse_time(clock.value['Now']) - (now or datetime.datetime.utcnow())).total_seconds()
        findings.add('time', target, _skew_status(skew, max_skew), 'cluster clock %+.0f s from the controller' % skew,
                     'synchronise the clocks (NTP on the controller, w32tm /resync on the nodes)' if abs(skew) > max_skew else None)
    findings.add('winrm', target, OK, '%s answers WinRM for the cluster (%s, %s)' % (
        target, options.transport, 'certificate validated' if options.scheme == 'https' and options.validate_certs else options.scheme))
    names = set(n.name.lower() for n in state.nodes)
    listed = set(n.lower() for n in inventory_nodes)
    if names != listed:
        findings.add('inventory', target, ERROR, 'the inventory lists %s; the cluster has %s' % (
            ', '.join(sorted(inventory_nodes)) or 'no node', ', '.join(sorted(n.name for n in state.nodes))),
            'list every cluster node, by its cluster node name, in the inventory group of this cluster')
    else:
        findings.add('inventory', target, OK, 'the inventory lists every cluster node')
    out = [n for n in state.nodes if n.state != 'Up']
    findings.add('nodes', target, ERROR if out else OK,
                 ('not Up: %s' % ', '.join('%s (%s)' % (n.name, n.state) for n in out)) if out else 'every node is Up',
                 'bring those nodes back (Start-ClusterNode, Resume-ClusterNode) before a run' if out else None)
    health = state.health()
    quorum = health['quorum']
    findings.add('quorum', target, OK if quorum['margin'] >= 1 else ERROR,
                 'quorum margin %s (%s votes present, %s needed)' % (quorum['margin'], quorum['votes_present'], quorum['votes_needed']),
                 None if quorum['margin'] >= 1 else 'restore the missing votes (a node, or the witness) before a run')
    if state.virtual_disks or state.storage_jobs:
        busy = health['storage_jobs_running'] or health['virtual_disks_not_healthy']
        findings.add('storage', target, ERROR if busy else OK,
                     ('storage is repairing or not healthy: jobs %s, disks %s' % (
                         ', '.join(health['storage_jobs_running']) or 'none',
                         ', '.join('%s %s' % kv for kv in sorted(health['virtual_disks_not_healthy'].items())) or 'healthy'))
                     if busy else 'no storage job runs and every virtual disk is healthy',
                     'wait until Get-StorageJob shows no running job and Get-VirtualDisk shows every disk Healthy' if busy else None)
    else:
        findings.add('storage', target, OK, 'no clustered storage spaces (no Storage Spaces Direct) to wait for')
    lock = state.run_lock
    if lock:
        findings.add('run_lock', target, WARNING if lock.get('abandoned') else ERROR,
                     'held by %s (run %s, %s, node %s; heartbeat %ss ago%s)' % (
                         lock.get('owner'), lock.get('run_id'), lock.get('status'), lock.get('node'), lock.get('heartbeat_age'),
                         ', its run is gone' if lock.get('abandoned') else ''),
                     'the same owner resumes it by running again; another owner sets rolling_update_takeover=true once it is '
                     'gone, or removes it: wsfc.rolling.cluster_lock state=absent force=true')
    else:
        findings.add('run_lock', target, OK, 'free')
    role = state.cau_role
    if role is None:
        findings.add('cau_role', target, ERROR if cau_required else OK,
                     'no Cluster-Aware Updating clustered role',
                     'add it (Add-CauClusterRole) for CAU scans and CAU-driven runs' if cau_required else None)
    else:
        detail = 'CAU clustered role %s on %s, %s%s' % (role.group_name, role.owner_node, role.state,
                                                        '' if role.settings_read else ' (its settings were not readable)')
        findings.add('cau_role', target, WARNING if role.state == 'Online' and not cau_required else OK, detail,
                     'self-updating is on: disable the role during a run (Disable-CauClusterRole) or schedule them apart'
                     if role.state == 'Online' and not cau_required else None)
    if cau_run.ok:
        run = cau_run.value or {}
        running = run.get('RunState') not in (None, 'RunNotInProgress', 'NotInstalled')
        findings.add('cau_run', target, ERROR if running else OK, 'CAU run state %s%s' % (
            run.get('RunState'), (' (run %s by %s)' % (run.get('RunId'), run.get('CurrentOrchestrator'))) if running else ''),
            'wait for the CAU Updating Run to end, or stop it (Stop-CauRun); a failed one is cleared with '
            'Invoke-CauRun -ForceRecovery' if running else None)
    else:
        findings.add('cau_run', target, WARNING, 'CAU run state not readable: %s' % cau_run.error.get('message'),
                     'install the ClusterAwareUpdating module (RSAT-Clustering-AutomationServer) to see CAU runs')
    if cau_required:
        _cau_setup(findings, target, results[2])
    return state


def _cau_setup(findings, target, result):
    """Test-CauSetup's rules: an Error a problem, a Warning a warning, the rest passed."""
    if not result.ok:
        findings.add('cau_setup', target, ERROR, 'Test-CauSetup failed: %s' % result.error.get('message'),
                     'run Test-CauSetup on a node and read Get-BpaResult Microsoft/Windows/ClusterAwareUpdating')
        return
    rows = result.value or []
    flagged = [r for r in rows if r.get('Severity') in ('Error', 'Warning')]
    for row in flagged:
        findings.add('cau_setup', target, ERROR if row['Severity'] == 'Error' else WARNING,
                     'Test-CauSetup: %s: %s' % (row.get('Title'), row.get('Problem') or row['Severity']),
                     row.get('Resolution') or None)
    if not flagged:
        findings.add('cau_setup', target, OK, 'Test-CauSetup: the %d rules of CAU\'s Best Practices Analyzer pass' % len(rows))


def _skew_status(skew, max_skew):
    return ERROR if abs(skew) > SKEW_ERROR else (WARNING if abs(skew) > max_skew else OK)


def check_node(options, name, node_id, findings, state, max_skew, runner_factory):
    """One node through its own address (one round trip): identity, PowerShell, services, policies."""
    try:
        with runner_factory(options, expect_node=name, expect_node_id=node_id) as runner:
            boot, doc = runner.invoke([('node.boot', {}), ('node.doctor', {})])
    except (ConnectionFailure, TimeoutFailure, AuthenticationFailure, WrongNode) as exc:
        # A machine that is off or booting does not refuse: the connection attempt times out.
        findings.add('winrm', name, ERROR, '%s does not answer WinRM as %s: %s' % (options.host, name, exc),
                     connection_fix(exc, options.host))
        return
    except CollectionError as exc:
        findings.add('winrm', name, ERROR, 'could not run the checks on %s: %s' % (name, exc),
                     'check that the account is a local administrator of %s' % name)
        return
    findings.add('winrm', name, OK, '%s answers WinRM as %s' % (options.host, name))
    if not boot.ok or not doc.ok:
        failed = boot if not boot.ok else doc
        findings.add('node', name, ERROR, 'the node checks failed: %s' % failed.error.get('message'), None)
        return
    d, b = doc.value, boot.value
    major_minor = tuple(int(x) for x in (str(d.get('PSVersion') or '0.0').split('.') + ['0'])[:2])
    findings.add('powershell', name, OK if major_minor >= (5, 1) else ERROR, 'PowerShell %s' % d.get('PSVersion'),
                 None if major_minor >= (5, 1) else 'install Windows Management Framework 5.1')
    modules = d.get('Modules') or []
    needed = list(REQUIRED_MODULES)
    if state is not None and (state.virtual_disks or state.storage_pools):
        needed.append('Storage')
    if state is not None and any(g.is_vm for g in state.groups):
        needed.append('Hyper-V')
    missing = [m for m in needed if m not in modules]
    findings.add('modules', name, ERROR if missing else OK,
                 ('missing PowerShell modules: %s' % ', '.join(missing)) if missing else 'modules: %s' % ', '.join(modules),
                 'install them (Install-WindowsFeature RSAT-Clustering-PowerShell, Hyper-V-PowerShell)' if missing else None)
    if 'ClusterAwareUpdating' not in modules:
        findings.add('modules', name, WARNING, 'the ClusterAwareUpdating module is not installed',
                     'install RSAT-Clustering-AutomationServer for CAU scans (rolling_update_scan=cau) and CAU run checks')
    if b.get('RebootPending'):
        findings.add('pending_restart', name, ERROR, 'a restart is pending from an earlier installation',
                     'restart %s before the run (the rolling update also restarts it first, once it is drained)' % name)
    else:
        findings.add('pending_restart', name, OK, 'no restart pending')
    wu = d.get('WindowsUpdateService') or {}
    disabled = str(wu.get('StartMode')).lower() == 'disabled'
    findings.add('windows_update', name, ERROR if disabled else OK,
                 'Windows Update service %s, start mode %s' % (wu.get('State'), wu.get('StartMode')),
                 'set the Windows Update service (wuauserv) to Manual' if disabled else None)
    scheduler = d.get('TaskScheduler')
    findings.add('task_scheduler', name, OK if scheduler == 'Running' else ERROR, 'Task Scheduler %s' % scheduler,
                 None if scheduler == 'Running' else 'start the Task Scheduler service: updates and setup run as tasks')
    policy = d.get('ExecutionPolicy') or {}
    unforced = (None, '', 'Undefined', 'Bypass', 'Unrestricted')
    forced = [v for v in (policy.get('MachinePolicy'), policy.get('UserPolicy')) if v not in unforced]
    findings.add('execution_policy', name, ERROR if forced else OK,
                 ('Group Policy sets the execution policy to %s: the scheduled tasks that run updates and setup from '
                  'script files are refused' % forced[0]) if forced else 'no execution policy set by Group Policy',
                 'exempt the servers from that policy, or sign the scripts under ProgramData\\wsfc.rolling' if forced else None)
    offset, source = d.get('TimeOffsetSeconds'), d.get('TimeSource')
    if not source or 'CMOS' in str(source) or 'Free-running' in str(source):
        findings.add('time', name, WARNING, 'the clock is not synchronised (source: %s)' % (source or 'unknown'),
                     'let the node synchronise with the domain hierarchy (w32tm /config /syncfromflags:domhier /update)')
    elif offset is not None:
        findings.add('time', name, _skew_status(offset, max_skew), 'clock %+.3f s from its time source %s' % (offset, source),
                     'synchronise it (w32tm /resync); Kerberos fails beyond 5 minutes' if abs(offset) > max_skew else None)
    if options.can_delegate:
        findings.add('double_hop', name, OK, 'delegation through %s' % options.transport)
    elif options.delegation == 'scheduled_task':
        blocked = d.get('PasswordStorageDisabled')
        findings.add('double_hop', name, ERROR if blocked else OK,
                     'scheduled-task delegation %s' % ('refused: the policy "Network access: Do not allow storage of '
                                                       'passwords and credentials" is enabled' if blocked else 'available'),
                     'use winrm_transport=credssp or Kerberos delegation, or disable that policy' if blocked else None)
    else:
        findings.add('double_hop', name, WARNING,
                     'no delegated credential: evicting and adding nodes (rolling_upgrade) and reading the CAU role from another '
                     'node need one (rolling_update does not)',
                     'for rolling_upgrade set wsfc_winrm_transport=credssp (CredSSP service %s on this node), kerberos with '
                     'wsfc_winrm_kerberos_delegation=true, or wsfc_winrm_delegation=scheduled_task'
                     % ('enabled' if d.get('CredSSPService') else 'not enabled'))


def check_bmc(name, bmc_options, findings, connect):
    """The node's BMC answers with the given credentials, for the node it is listed for."""
    try:
        client = connect(bmc_options)
        try:
            power = client.power_state()
        finally:
            client.close()
    except CollectionError as exc:
        findings.add('bmc', name, ERROR, 'BMC %s: %s' % (bmc_options.name, exc),
                     'check wsfc_bmc_host, wsfc_bmc_user / wsfc_bmc_password and that the controller reaches the BMC')
        return
    findings.add('bmc', name, OK, 'BMC %s answers (%s), power %s%s' % (
        bmc_options.name, bmc_options.protocol, power,
        '' if client.identity_confirmed is not False else '; it reports no serial number, so its system is not confirmed'))


def run(options, nodes, lock_stale_after=run_lock.STALE_AFTER, cau_required=False, max_skew=SKEW_WARNING,
        check_controller_clock=True, runner_factory=PowerShellRunner, bmc_connect=None):
    """Every check; returns Findings. ``nodes``: [{'name', 'winrm_host', 'node_id', 'bmc': BmcOptions or None}]."""
    findings = Findings()
    state = check_cluster(options, findings, [n['name'] for n in nodes], lock_stale_after, cau_required,
                          runner_factory, max_skew, check_controller_clock,
                          fallback_host=next((n.get('winrm_host') or n['name'] for n in nodes), None))
    ids = dict((n.name.lower(), n.id) for n in state.nodes) if state else {}
    for node in nodes:
        node_options = options.replace(host=node.get('winrm_host') or node['name'])
        check_node(node_options, node['name'], node.get('node_id') or ids.get(node['name'].lower()), findings, state,
                   max_skew, runner_factory)
        if node.get('bmc') is not None and bmc_connect is not None:
            check_bmc(node['name'], node['bmc'], findings, bmc_connect)
    return findings


# -- for the doctor playbook -----------------------------------------------------------------------

BMC_VARIABLES = (('name', 'wsfc_bmc_host'), ('user', 'wsfc_bmc_user'), ('password', 'wsfc_bmc_password'),
                 ('protocol', 'wsfc_bmc_protocol'), ('port', 'wsfc_bmc_port'), ('ca_path', 'wsfc_bmc_ca_path'),
                 ('system_id', 'wsfc_bmc_system_id'))


def node_entry(host_vars):
    """A node of the ``nodes`` option from one host's inventory variables (BMC only with wsfc_bmc_host)."""
    entry = {'name': host_vars.get('wsfc_node_name') or host_vars['inventory_hostname'], 'winrm_host': host_vars.get('wsfc_winrm_host')}
    if host_vars.get('wsfc_bmc_host'):
        entry['bmc'] = dict((key, host_vars.get(var)) for key, var in BMC_VARIABLES if host_vars.get(var) is not None)
    return entry


def finding_line(finding):
    """One finding as one line: ``[error] HV-N2 pending_restart: ... -> fix``."""
    line = '[%s] %s %s: %s' % (finding['status'], finding['target'], finding['check'], finding['detail'])
    return line + (' -> %s' % finding['fix'] if finding.get('fix') else '')
