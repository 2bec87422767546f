# -*- coding: utf-8 -*-
# Copyright: (c) 2026, wsfc.rolling developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cluster-Aware Updating runs: check the options, start Invoke-CauRun without holding a WinRM command open,
follow Get-CauRun, read the run's report (windows-behaviour.md §13)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.wsfc.rolling.plugins.module_utils._cluster import model
from ansible_collections.wsfc.rolling.plugins.module_utils._errors import (
    ConnectionFailure, InvalidOption, RemoteCommandError, TimeoutFailure, UnsafeToProceed)
from ansible_collections.wsfc.rolling.plugins.module_utils._wait import wait_until
from ansible_collections.wsfc.rolling.plugins.module_utils._winrm import _powershell
from ansible_collections.wsfc.rolling.plugins.module_utils._winrm.runner import WinRMOptions, error_for_record

WINDOWS_UPDATE = 'Microsoft.WindowsUpdatePlugin'
HOTFIX = 'Microsoft.HotfixPlugin'
ROLLING_UPGRADE = 'Microsoft.RollingUpgradePlugin'
PLUGINS = (WINDOWS_UPDATE, HOTFIX, ROLLING_UPGRADE)

# Module option -> Invoke-CauRun parameter (PS:Invoke-CauRun). Values None are not sent.
PARAMETERS = {
    'max_failed_nodes': 'MaxFailedNodes', 'max_retries_per_node': 'MaxRetriesPerNode', 'node_order': 'NodeOrder',
    'require_all_nodes_online': 'RequireAllNodesOnline', 'reboot_timeout_minutes': 'RebootTimeoutMinutes',
    'failback_mode': 'FailbackMode', 'wait_for_storage_repair_timeout_minutes': 'WaitForStorageRepairTimeoutMinutes',
    'reboot_mode': 'RebootMode', 'os_rolling_upgrade': 'OsRollingUpgrade', 'pre_update_script': 'PreUpdateScript',
    'post_update_script': 'PostUpdateScript', 'enable_firewall_rules': 'EnableFirewallRules',
}


def credential(p):
    """The account CAU acts as: cau_user, else the WinRM credential (InvalidOption when neither is given)."""
    if bool(p['cau_user']) != bool(p['cau_password']):
        raise InvalidOption('cau_user and cau_password go together')
    if p['cau_user']:
        return {'user': p['cau_user'], 'password': p['cau_password']}
    options = WinRMOptions.from_params(p)
    if not (options.user and options.password):
        raise InvalidOption('CAU needs a credential: set cau_user and cau_password, or winrm_user and winrm_password')
    return {'user': options.user, 'password': options.password}


def check_plugin(name, arguments):
    """InvalidOption for a plug-in's missing or contradictory arguments (before anything is sent)."""
    arguments = dict((str(k), str(v)) for k, v in (arguments or {}).items())
    if name == HOTFIX and not arguments.get('HotfixRootFolderPath'):
        raise InvalidOption('plugin Microsoft.HotfixPlugin needs plugin_arguments.HotfixRootFolderPath (the UNC path of the '
                            'hotfix root folder)')
    if name == ROLLING_UPGRADE:
        connected = arguments.get('WuConnected', '').lower()
        if connected not in ('true', 'false'):
            raise InvalidOption("plugin Microsoft.RollingUpgradePlugin needs plugin_arguments.WuConnected 'true' (the feature "
                                "update from Windows Update) or 'false' with PathToSetupMedia, got %r"
                                % arguments.get('WuConnected'))
        if connected == 'false' and not arguments.get('PathToSetupMedia'):
            raise InvalidOption("plugin Microsoft.RollingUpgradePlugin with WuConnected 'false' needs "
                                "plugin_arguments.PathToSetupMedia (the setup media as every node sees it)")
    return arguments


def _spelled(names, name):
    """The cluster's spelling of node ``name`` (node names ignore case), or None."""
    return next((n for n in names if n.lower() == str(name).lower()), None)


def check_options(params, names, keep_false=False):
    """The Invoke-CauRun parameters from the module's options, checked against the cluster's node ``names``.
    ``keep_false``: a switch set to false is sent too (to turn off a setting the CAU role keeps)."""
    out = {}
    for option, parameter in PARAMETERS.items():
        value = params.get(option)
        if value is None or value == [] or (value is False and not keep_false):
            continue
        out[parameter] = value
    failed = params.get('max_failed_nodes')
    if failed is not None and not 0 <= failed <= len(names) - 1:
        raise InvalidOption('max_failed_nodes must be from 0 to %d (one less than the %d nodes of the cluster), got %d'
                            % (len(names) - 1, len(names), failed))
    retries = params.get('max_retries_per_node')
    if retries is not None and not 0 <= retries <= 64:
        raise InvalidOption('max_retries_per_node must be from 0 to 64, got %d' % retries)
    for option in ('reboot_timeout_minutes', 'wait_for_storage_repair_timeout_minutes'):
        if params.get(option) is not None and params[option] < 1:
            raise InvalidOption('%s must be at least 1, got %d' % (option, params[option]))
    strangers = [n for n in params.get('node_order') or [] if _spelled(names, n) is None]
    if strangers:
        raise InvalidOption('node_order names %s, which %s no node of the cluster (its nodes: %s)'
                            % (', '.join(strangers), 'is' if len(strangers) == 1 else 'are', ', '.join(names)))
    if params.get('node_order'):
        out['NodeOrder'] = [_spelled(names, n) for n in params['node_order']]
    for option in ('pre_update_script', 'post_update_script'):
        path = params.get(option)
        if path and (not str(path).lower().endswith('.ps1') or len(str(path)) > 260):
            raise InvalidOption('%s must be the path of a .ps1 file of at most 260 characters, got %r' % (option, path))
    return out


WEEKDAYS = ('Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday')
# Get-CauClusterRole shows -IntervalWeeks as WeeksInterval (PS:Set-CauClusterRole example 2).
PROPERTY_NAMES = {'IntervalWeeks': 'WeeksInterval'}


def check_schedule(params):
    """The schedule's Add-/Set-CauClusterRole parameters, checked (InvalidOption)."""
    out = {}
    days = params.get('days_of_week') or []
    bad = [d for d in days if d not in WEEKDAYS]
    if bad:
        raise InvalidOption('days_of_week has %s, which %s no day of the week (%s)' % (
            ', '.join(bad), 'is' if len(bad) == 1 else 'are', ', '.join(WEEKDAYS)))
    if days:
        out['DaysOfWeek'] = [d for d in WEEKDAYS if d in days]
    weeks, interval = params.get('weeks_of_month') or [], params.get('interval_weeks')
    if weeks and interval:
        raise InvalidOption('weeks_of_month and interval_weeks are two kinds of schedule: give one of them')
    if [w for w in weeks if not 1 <= w <= 5]:
        raise InvalidOption('weeks_of_month takes weeks 1 to 5 (5: the last week of the month), got %s' % weeks)
    if weeks:
        out['WeeksOfMonth'] = sorted(set(weeks))
    if interval is not None:
        if interval < 1:
            raise InvalidOption('interval_weeks must be at least 1, got %d' % interval)
        out['IntervalWeeks'] = interval
    if params.get('start_date'):
        out['StartDate'] = params['start_date']
    return out


def _text(value):
    if isinstance(value, bool):
        return 'True' if value else 'False'
    if isinstance(value, list):
        return ', '.join(str(v) for v in value)
    return str(value)


def role_changes(current, parameters, plugin=None, arguments=None):
    """What Set-CauClusterRole must change: {parameter: value} where the role's setting differs (compared as
    Get-CauClusterRole shows it, text), and whether the plug-in (name or arguments) differs."""
    current = dict(current or {})
    changes = dict((name, value) for name, value in parameters.items()
                   if str(current.get(PROPERTY_NAMES.get(name, name), '')).lower() != _text(value).lower())
    plugin_differs = False
    if plugin:
        have = dict(pair.split('=', 1) for pair in str(current.get('CauPluginArguments') or '').replace(',', ';').split(';')
                    if '=' in pair)
        plugin_differs = (current.get('CauPluginName') != plugin
                          or dict((k.strip(), v.strip()) for k, v in have.items()) != dict(arguments or {}))
    return changes, plugin_differs


def run_state(results):
    value = results.value if results.ok else {'RunState': 'Unknown', 'Error': results.error.get('message')}
    return model.cau_run_view(value)


def start(session, plugin, arguments, parameters, credential):
    """Invoke-CauRun in a scheduled task on the node the session reached; returns that node's name."""
    params = {'plugin': {'name': plugin, 'arguments': arguments}, 'parameters': parameters,
              'task_script': _powershell.CAU_RUN_TASK}
    params.update(credential)
    result = session.invoke([('cau.run_start', params)])[0]
    if not result.ok:
        raise error_for_record('Failed to start the Updating Run', result.error)
    return result.value.get('ComputerName')


def recover(session, credential):
    result = session.invoke([('cau.recover', dict(credential))])[0]
    if not result.ok:
        raise error_for_record('Invoke-CauRun -ForceRecovery failed', result.error)
    return result.value.get('Recovered')


def follow(session, credential, timeout, interval, started=True):
    """Wait until no Updating Run holds the cluster; return the last Get-CauRun view.

    ``started``: the run was started here, so until Get-CauRun shows it the task's own status is read too (an
    Invoke-CauRun that refused ends the task with its error, and that ends the wait at once)."""
    seen = {'run': not started}

    def poll():
        calls = [('cau.run_state', dict(credential))]
        if not seen['run']:
            calls.append(('cau.run_task', {}))
        try:
            # The run restarts the nodes one by one: a poll that finds no node answering moves on to the next.
            results = session.invoke(calls, retry=True, poll=True)
        except (ConnectionFailure, TimeoutFailure) as exc:
            session.close()
            return {'in_progress': True, 'seen': seen['run'], 'summary': 'no node answered (%s)' % exc}
        view = run_state(results[0])
        if view['in_progress']:
            seen['run'] = True
        elif not seen['run'] and len(results) > 1 and results[1].ok:
            task = results[1].value or {}
            if task.get('Phase') == 'Failed':
                raise RemoteCommandError('Invoke-CauRun refused or failed on %s: %s' % (
                    session.current_host, task.get('Error')), details={'task': task})
            if task.get('Phase') == 'Finished':
                seen['run'] = True
        view['seen'] = seen['run']
        return view

    def done(view):
        return view['seen'] and not view['in_progress']

    def describe(view):
        if not view['seen']:
            return 'the Updating Run has not shown in Get-CauRun yet'
        return 'CAU: %s' % view['summary']

    return wait_until(poll, timeout, interval=interval, describe=describe, done=done)


def report(session, credential):
    """Get-CauReport -Last -Detailed as plain data: per node its status, updates and error."""
    result = session.invoke([('cau.report', dict(credential))], retry=True)[0]
    if not result.ok:
        raise error_for_record('Failed to read the Updating Run report', result.error)
    value = result.value
    if not value:
        return None
    nodes = []
    for node in value.get('Nodes') or []:
        updates = [{'title': u.get('Title'), 'id': u.get('Id'), 'result': u.get('ResultCode'),
                    'error_code': u.get('ErrorCode') or 0} for u in node.get('Updates') or []]
        nodes.append({'node': node.get('Node'), 'status': node.get('Status'), 'error': node.get('Error') or None,
                      'updates_succeeded': int(node.get('Succeeded') or 0), 'updates_failed': int(node.get('Failed') or 0),
                      'updates': updates})
    return {'run_id': value.get('RunId'), 'status': value.get('Status'), 'lines': lines(value.get('RunId'), value.get('Status'), nodes),
            'started': value.get('StartTimestamp'),
            'duration_seconds': value.get('RunDurationSeconds'), 'plugin': value.get('Plugin'), 'nodes': nodes,
            'failed_nodes': [n['node'] for n in nodes if str(n['status']).endswith('Failed')]}


def lines(run_id, status, nodes):
    """The report as lines of text: the run, then one per node."""
    def name(update):
        return update['id'] if str(update['id'] or '').upper().startswith('KB') else update['title']

    out = ['Updating Run %s: %s' % (run_id, status)]
    for n in nodes:
        done = [name(u) for u in n['updates'] if u['result'] in ('Succeeded', 'SucceededWithErrors')]
        failed = [name(u) for u in n['updates'] if u['result'] not in ('Succeeded', 'SucceededWithErrors')]
        out.append('%s: %s; %d update(s) installed%s%s%s' % (
            n['node'], n['status'], n['updates_succeeded'], ' (%s)' % ', '.join(done) if done else '',
            '; failed: %s' % ', '.join(failed) if failed else '', '; %s' % n['error'] if n['error'] else ''))
    return out


def refuse_if_held(state, force_recovery):
    """UnsafeToProceed while our rolling run holds the cluster or CAU's lock stands; None when a run may start.
    Returns 'recover' when a failed run's lock stands and recovery was asked for, 'attach' when a run is going on."""
    lock = state.run_lock
    if lock:
        # Even a run that looks gone may have left a node paused or out: it is finished (re-run it) or its lock
        # removed by someone who checked the nodes, before CAU takes the cluster.
        raise UnsafeToProceed('A wsfc.rolling run holds %s (owner %s, run %s, node %s%s): an Updating Run is not started '
                              'while it holds the cluster. Finish it (run it again) or, once the nodes are checked, remove '
                              'its lock with wsfc.rolling.cluster_lock state=absent force=true'
                              % (state.cluster.name, lock.get('owner'), lock.get('run_id'), lock.get('node') or 'none',
                                 ', gone' if lock.get('abandoned') else ''), details={'run_lock': lock})
    cau = state.cau_run
    if cau['run_state'] == 'RunFailed':
        if not force_recovery:
            raise UnsafeToProceed('A previous Updating Run on %s failed and left the cluster locked (Get-CauRun: %s). Check the '
                                  'nodes (Get-CauRun, Get-ClusterNode), then run again with force_recovery=true to clear it '
                                  '(Invoke-CauRun -ForceRecovery)' % (state.cluster.name, cau['summary']),
                                  details={'cau_run': cau})
        return 'recover'
    if cau['run_state'] == 'Unknown':
        raise UnsafeToProceed('Cannot tell whether an Updating Run holds %s: %s' % (state.cluster.name, cau['summary']))
    if cau['in_progress']:
        return 'attach'
    return None
