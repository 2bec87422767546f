# -*- coding: utf-8 -*-
# Copyright: (c) 2026, wsfc.rolling developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Operating-system version upgrades: the N -> N+1 rule, the in-place start, waiting for a build."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.wsfc.rolling.plugins.module_utils._cluster import releases
from ansible_collections.wsfc.rolling.plugins.module_utils._cluster.model import FUNCTIONAL_LEVELS as LEVEL_NAMES
from ansible_collections.wsfc.rolling.plugins.module_utils._cluster.updates import UNREACHABLE, boot_state, restarted_since
from ansible_collections.wsfc.rolling.plugins.module_utils._errors import InvalidOption, UnsafeToProceed
from ansible_collections.wsfc.rolling.plugins.module_utils._wait import wait_until
from ansible_collections.wsfc.rolling.plugins.module_utils._winrm import _powershell
from ansible_collections.wsfc.rolling.plugins.module_utils._winrm.runner import error_for_record


def check_build(build):
    """Fail unless ``build`` is the build of a release the collection knows (of any product)."""
    if not any(r.build == int(build or 0) for r in releases.RELEASES):
        raise InvalidOption('build %r is not a Windows Server or Azure Stack HCI release build this collection knows (%s)'
                            % (build, releases.known()))


def plan(cluster, nodes, target_build, method=None):
    """Check a rolling upgrade target against the cluster and say which nodes still need it.

    A node goes one release up at a time (windows-behaviour.md §14): every node must run the target or the
    release just before it in its product's line (Windows Server 2019 -> 2022, Azure Stack HCI 22H2 -> 23H2);
    the target is never older than the cluster's functional level or any node. ``method`` (reprovision,
    in_place), when given, must suit the cluster's storage (no reinstall on Storage Spaces Direct).

    Args:
        cluster: model.ClusterProperties (functional level, product, S2D).
        nodes: model.Node list (cluster members).

    Returns:
        dict(target_build, target_level, target_release, product, nodes_on_target, nodes_to_upgrade)

    Raises:
        InvalidOption: a target of another product, older than a node or the cluster, or more than one step
        away, or a method the cluster's storage does not allow; the message names the allowed next step.
    """
    product = releases.product_of(cluster.product_name)
    target = releases.target_release(target_build, product)
    problems = []
    if target.level < cluster.functional_level:
        problems.append('target build %d (%s) is older than the cluster functional level %d (%s): a rolling upgrade '
                        'does not go back' % (target.build, releases.name(target), cluster.functional_level,
                                              LEVEL_NAMES.get(cluster.functional_level)))
    by_source = {}
    for node in nodes:
        source = releases.release_of(node.build_number, product)
        why = ('build %d is no release of %s this collection knows' % (node.build_number, product) if source is None
               else releases.check_step(source, target))
        if why:
            by_source.setdefault(why, []).append(node.name)
    for why, names in sorted(by_source.items()):
        problems.append('node%s %s: %s' % ('s' if len(names) > 1 else '', ', '.join(sorted(names)), why))
    if not problems and target.level > cluster.functional_level + 1:
        level = cluster.functional_level
        problems.append('target build %d (%s) skips a version: the cluster functional level is %d (%s); a rolling '
                        'upgrade goes one version at a time' % (target.build, releases.name(target), level, LEVEL_NAMES.get(level)))
    if method:
        why = releases.check_method(method, cluster.s2d_enabled, target)
        if why:
            problems.append(why)
    if problems:
        raise InvalidOption('Cannot upgrade %s to build %d (%s): %s' % (
            cluster.name, target.build, releases.name(target), '; '.join(problems)))
    return {'target_build': target.build, 'target_level': target.level, 'target_release': releases.name(target),
            'product': product,
            'nodes_on_target': [n.name for n in nodes if n.build_number == target.build],
            'nodes_to_upgrade': [n.name for n in nodes if n.build_number != target.build]}


def check_media(runner, name, media):
    """Fail unless ``media`` holds setup.exe as the node's setup will see it (SYSTEM for a share)."""
    result = runner.invoke([('node.media', {'media': media})])[0]
    if not result.ok:
        raise error_for_record('Cannot upgrade %s in place from %s' % (name, media), result.error)
    return result.value


def start_inplace(runner, name, media, dynamic_update=False):
    """Check the media and start setup, in one round trip (nothing starts when the media is missing)."""
    params = {'media': media, 'task_script': _powershell.OS_UPGRADE_TASK, 'dynamic_update': bool(dynamic_update)}
    results = runner.invoke([('node.media', {'media': media}), ('node.os_upgrade', params)], stop_on_error=True)
    for result in results:
        if not result.ok:
            raise error_for_record('Failed to start the in-place upgrade of %s from %s' % (name, media), result.error)


# Exit codes of Windows Setup that end an upgrade attempt (learn.microsoft.com, "Resolve Windows
# upgrade errors"; windows-setup-command-line-options).
SETUP_CODES = {
    0xC1900101: 'a driver failed during the upgrade (setup rolled back)',
    0xC1900107: 'a cleanup from an earlier upgrade attempt waits for a restart',
    0xC1900200: 'this machine does not meet the requirements of the new release',
    0xC1900202: 'this machine does not meet the requirements of the new release',
    0xC1900204: 'the upgrade path is not supported (edition, language or architecture differ)',
    0xC1900208: 'an incompatible application blocks the upgrade',
    0xC190020E: 'not enough free disk space',
    0xC1900215: 'no image on the media matches the installed edition',
}


def setup_refusal(status):
    """What stopped the in-place upgrade, from the OS upgrade task's record, or None while it runs."""
    if not status or not status.get('Phase'):
        task = (status or {}).get('Task') or {}
        if task.get('State') == 'Ready' and task.get('LastRunTime') and task.get('LastTaskResult') not in (0, 0x41301, 0x41303, None):
            return ('its scheduled task ended with result 0x%08X before Windows Setup started (see the '
                    'Microsoft-Windows-TaskScheduler/Operational log)' % (task['LastTaskResult'] & 0xFFFFFFFF))
        return None
    if status['Phase'] == 'Failed':
        return status.get('Error') or 'the OS upgrade task failed'
    if status['Phase'] == 'Setup exited' and status.get('ExitCode'):
        code = int(status['ExitCode']) & 0xFFFFFFFF
        return 'Windows Setup exited with code 0x%08X (%s); its logs were copied to %s on the node' % (
            code, SETUP_CODES.get(code, 'see the setup logs'), status.get('LogPath'))
    return None


def _plain(state):
    """A boot state without its model objects (for error details, which must be plain data)."""
    return dict((k, v) for k, v in state.items() if k not in ('Members', 'Quorum'))


def wait_for_build(runner, name, build, timeout, interval, previous_boot=None, inplace=False):
    """Wait until the node answers WinRM on ``build``.

    ``previous_boot`` is the node's LastBootUpTime before it was restarted ('' when it did not
    answer then). An answer on another build after a new boot means the node came back on the
    wrong image or from its old disk: that fails at once instead of waiting out the timeout.
    Without it (None), other builds are waited through. With ``inplace``, every poll also reads the
    OS upgrade task's record (same round trip): a setup that refused fails within one poll, with
    setup's exit code and where its logs are.

    Returns:
        the node's boot state.
    """
    seen = {'unreachable': False}

    def poll():
        try:
            state = boot_state(runner, name, poll=True, extra=[('node.os_upgrade_status', {})] if inplace else ())
        except UNREACHABLE as exc:
            seen['unreachable'] = True
            runner.close()
            return {'unreachable': str(exc)}
        why = setup_refusal(state.get('extra', [{}])[0]) if inplace else None
        if why and int(state.get('BuildNumber') or 0) != build:
            raise UnsafeToProceed('The in-place upgrade of %s did not start: %s. The node was left as it is, on build %s'
                                  % (name, why.rstrip('.'), state.get('BuildNumber')), details={'boot': _plain(state)})
        return state

    def done(state):
        if state.get('unreachable'):
            return False
        if int(state.get('BuildNumber') or 0) == build:
            return True
        if previous_boot is not None and restarted_since(previous_boot, state.get('LastBootUpTime'), seen['unreachable']):
            raise UnsafeToProceed('%s came back on build %s (%s), not on the target build %d: check the image the '
                                  'deployment server offers it (or that it boots from the network)'
                                  % (name, state.get('BuildNumber'), state.get('Caption'), build), details={'boot': _plain(state)})
        return False

    def describe(state):
        if state.get('unreachable'):
            return '%s does not answer WinRM yet (%s); waiting for it on build %d' % (name, state['unreachable'], build)
        return '%s still answers on build %s; waiting for build %d' % (name, state.get('BuildNumber'), build)

    return wait_until(poll, timeout, interval=interval, describe=describe, done=done)
