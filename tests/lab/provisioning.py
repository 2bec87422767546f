"""Out-of-band and membership changes: BMC power and boot override, PXE reprovisioning, in-place
OS upgrade, evict and add, the functional level, the storage pool version, VM configuration versions.

Sources per behaviour are in docs/lab-fidelity.md (docs/windows-behaviour.md sections cited inline).
All functions run with ``lab.lock`` held.
"""

import copy

from .model import OS_CATALOG, CmdletError
from .maintenance import MoveOperation, _node_error, _return_to_service, boot, node_not_found, os_started, shut_down

BOOT_DEVICES = ('none', 'network', 'disk', 'cd', 'bios')
# Hyper-V default VM configuration version per OS (windows-behaviour.md §14, VMVER / RU).
VM_VERSION = {'ws2016': '8.0', 'ws2019': '9.0', 'ws2022': '10.0', 'ws2025': '12.0', 'hci22h2': '10.0',
              'hci23h2': '11.0'}   # the HCI values are UNVERIFIED
VM_RESTART_SECONDS = 90.0  # guest shutdown and start around Update-VMVersion (lab figure)
LEVEL_OS = dict((info['level'], name) for name, info in OS_CATALOG.items() if name.startswith('ws'))


def _record(lab, kind, node, **data):
    lab.recorder.record(kind, node=node.name, **data)


# -- chassis power (IPMI Chassis Control / Redfish ComputerSystem.Reset) ------------------------

def chassis_off(lab, node, how='hard'):
    """Power removed at once: the OS stops wherever it was (boot, install, restart all end)."""
    node.power_gen += 1
    node.restart_gen += 1
    node.restarting = node.joining = node.in_setup = False
    was = node.chassis
    node.chassis = 'Off'
    _record(lab, 'bmc.power', node, action='off', how=how, was=was)
    if node.power == 'On':
        lab.set_power(node.name, 'Off', graceful=how == 'acpi')


def chassis_soft_off(lab, node):
    """ACPI power button: a running OS shuts down cleanly, then the chassis turns off. Without a
    running OS (firmware setup, booting) nothing answers the request (UNVERIFIED detail)."""
    _record(lab, 'bmc.power', node, action='soft_off')
    if node.chassis == 'Off' or node.power != 'On':
        return
    gen = node.power_gen
    lab.recorder.activity_start(node.name, 'shutdown')

    def off():
        lab.recorder.activity_end(node.name, 'shutdown')
        chassis_off(lab, node, how='acpi')
    shut_down(lab, node, lambda: node.power_gen == gen, off)


def chassis_on(lab, node):
    if node.chassis == 'On':
        return
    node.power_gen += 1
    node.restart_gen += 1
    node.chassis = 'On'
    _record(lab, 'bmc.power', node, action='on')
    _boot(lab, node)


def chassis_cycle(lab, node):
    """Power cycle / hard reset: off and on again (a reset of a powered-off system powers it on)."""
    if node.chassis == 'On':
        chassis_off(lab, node, how='cycle')
    chassis_on(lab, node)


def set_boot(lab, node, device, persistent=False, uefi=True):
    if device not in BOOT_DEVICES:
        raise ValueError('unknown boot device %r' % device)
    node.boot_device, node.boot_persistent, node.boot_uefi = device, bool(persistent), bool(uefi)
    _record(lab, 'bmc.boot', node, device=device, persistent=bool(persistent), uefi=bool(uefi))


def _boot(lab, node):
    device = node.boot_device
    if not node.boot_persistent:
        node.boot_device = 'none'  # the firmware consumes a one-time override (IPMI boot flags valid bit)
    gen = node.power_gen
    _record(lab, 'node.firmware_boot', node, device=device)
    if device == 'bios':
        node.in_setup = True
        return
    if device == 'network' and node.name in lab.images:
        _reprovision(lab, node, lab.images.pop(node.name), gen)
        return
    # No PXE offer for this machine (the VMM provider answers only machines it deploys, VMM-BM):
    # the firmware falls through to the disk and the installed OS starts.
    boot(lab, node, lambda: node.power_gen == gen)


def _reprovision(lab, node, image, gen):
    """A PXE boot with an image staged: WinPE deploys it and the machine starts on the new OS,
    configured by the user's unattend but not a cluster member (VMM-BM, RU step 3.2)."""
    _record(lab, 'node.reprovision_started', node, os=image['os'])
    lab.recorder.activity_start(node.name, 'reprovision')
    if node.name in lab.faults.get('pxe_no_return', []):
        _record(lab, 'fault.pxe_no_return', node)
        return

    def deployed():
        if node.power_gen != gen:
            return
        node.os = lab.faults.get('wrong_build', {}).get(node.name, image['os'])
        node.ubr = int(image.get('ubr', 1000))
        node.updates, node.reboot_pending, node.pending_ubr = [copy.copy(u) for u in lab.image_updates], False, 0
        # The image's unattend recreates the configuration; fault config_mismatch leaves a part out.
        node.config = copy.deepcopy(node.config)
        if node.name in lab.faults.get('config_mismatch', []):
            node.config['vswitches'] = []
            node.config['features'] = [f for f in node.config.get('features', []) if f != 'Hyper-V']
        node.cluster_service = 'Stopped'  # Failover-Clustering installed, no cluster configured yet
        node.drain_status, node.member_state = 'NotInitiated', 'Up'
        node.boot_time = lab.clock.now()
        lab.recorder.activity_end(node.name, 'reprovision')
        _record(lab, 'node.reprovisioned', node, os=node.os, build=OS_CATALOG[node.os]['build'])
        lab.set_power(node.name, 'On')
    lab.clock.after(lab.timings['os_install_seconds'], deployed)


# -- in-place upgrade (setup.exe from media, RU step 3.1) ----------------------------------------

def inplace_upgrade(lab, node, media):
    """setup.exe /auto upgrade: the node restarts into setup and comes back on the new OS, still a
    member and still paused (RU step 3: the node keeps its membership)."""
    target = lab.setup_media.get(media)
    if target is None:
        raise CmdletError("Setup media not found at '%s'." % media, 'PathNotFound', 'ObjectNotFound',
                          exception='System.Management.Automation.ItemNotFoundException', target=media)
    if OS_CATALOG[target]['level'] <= node.os_info['level']:
        raise CmdletError('The setup media holds %s, which is not newer than this server.' % OS_CATALOG[target]['caption'],
                          'SetupNotNewer', 'InvalidOperation', exception='System.InvalidOperationException')
    # The OS upgrade task (powershell/os-upgrade-task.ps1): picks the image of the node's edition,
    # runs setup, records its exit code when setup refuses (windows-setup-command-line-options).
    job = {'Phase': 'Running setup', 'Edition': 'ServerDatacenter (Server)', 'ImageIndex': 4, 'ExitCode': None,
           'LogPath': r'C:\ProgramData\wsfc.rolling\setup-logs', 'Error': None}
    lab.os_jobs[node.name] = job
    refusal = (lab.faults.get('setup_refused') or {}).get(node.name)
    if refusal is not None:
        def refused():
            if refusal == 'no_image':
                job.update(Phase='Failed', ImageIndex=None, Error="The media at %s has no image of this node's edition "
                           "ServerDatacenter (Server); it offers 1: ServerStandard Server Core, 2: ServerStandard Server." % media)
            else:
                job.update(Phase='Setup exited', ExitCode=int(refusal, 16) if isinstance(refusal, str) else int(refusal))
            _record(lab, 'node.setup_refused', node, code=refusal)
        lab.clock.after(lab.timings['setup_refusal_seconds'], refused)
        return
    node.restart_gen += 1
    node.power_gen += 1
    gen = node.power_gen
    _record(lab, 'node.inplace_upgrade_started', node, os=target)
    lab.recorder.activity_start(node.name, 'reprovision')
    # Setup first works in the running OS (copying the image, the compatibility checks); the first restart
    # comes minutes later.
    lab.clock.after(lab.vary(lab.timings['setup_downlevel_seconds']),
                    lambda: node.power_gen == gen and shut_down(lab, node, lambda: node.power_gen == gen, lambda: None))
    if node.name in lab.faults.get('pxe_no_return', []):
        return

    def upgraded():
        if node.power_gen != gen:
            return
        node.os = lab.faults.get('wrong_build', {}).get(node.name, target)
        node.updates, node.reboot_pending = [copy.copy(u) for u in lab.image_updates], False
        lab.recorder.activity_end(node.name, 'reprovision')
        _record(lab, 'node.upgraded', node, os=node.os)
        os_started(lab, node, lambda: node.power_gen == gen)
    lab.clock.after(lab.timings['inplace_upgrade_seconds'], upgraded)


# -- Remove-ClusterNode / Add-ClusterNode (windows-behaviour.md §14) ------------------------

def _cluster_error(command, message, reason, category='InvalidOperation', target='', native_code=None):
    # The refusals here are named by their reason rather than by the cmdlet.
    return _node_error(command, message, native_code, category, target, reason=reason)


def evict(lab, name):
    """Remove-ClusterNode -Force: the node leaves the cluster; its roles fail over; the node's
    cluster configuration is cleaned up (its cluster service stops)."""
    node = lab.node(name)
    if node is None:
        raise node_not_found(lab, name, 'Remove-ClusterNode')
    if len(lab.nodes) == 1:
        raise _cluster_error('Remove-ClusterNode', 'The last node of a cluster cannot be evicted.', 'EvictLastNode',
                             target=node.name)
    _record(lab, 'node.evicted', node, state_before=node.state)
    node.member = False
    node.draining = False
    node.cluster_service = 'Stopped'
    node.drain_status, node.member_state = 'NotInitiated', 'Up'
    for group in lab.groups.values():
        if node.name in group.preferred_owners:
            group.preferred_owners.remove(node.name)
    lab.after_membership_change(graceful=True)


def add(lab, node, cluster, name):
    """Add-ClusterNode run on the joining server with -Cluster (RU step 3.2: add it from a node on
    the newer OS). Only N and N+1 may join a cluster at functional level N (RU, 6.3)."""
    if str(cluster).lower() != lab.name.lower():
        raise _cluster_error('Add-ClusterNode', "The cluster '%s' was not found." % cluster, 'ClusterNotFound',
                             category='ObjectNotFound', target=cluster, native_code=5042)
    target = lab.machine(name)
    if target is None or target.power != 'On':
        raise _cluster_error('Add-ClusterNode', "The computer '%s' could not be reached." % name, 'NodeUnreachable',
                             category='ConnectionError', target=name, native_code=1722)
    if target.member:
        return target
    if target is not node and node.os_info['level'] < target.os_info['level']:
        raise _cluster_error('Add-ClusterNode', 'A node running %s must be used to add a node running it.'
                             % target.os_info['caption'], 'AddFromOlderNode', target=name)
    level = target.os_info['level']
    if level not in (lab.functional_level, lab.functional_level + 1):
        # The wording is UNVERIFIED (windows-behaviour.md §14); the rule is RU's.
        raise _cluster_error('Add-ClusterNode', "The node '%s' runs %s, which cannot join a cluster at functional "
                             'level %d: only the same version or the next one may join.'
                             % (target.name, target.os_info['caption'], lab.functional_level), 'VersionMismatch',
                             target=name, native_code=5075)
    if 'Failover-Clustering' not in target.config.get('features', []):
        raise _cluster_error('Add-ClusterNode', "The Failover Clustering feature is not installed on '%s'." % name,
                             'FeatureNotInstalled', target=name)
    if target.name in lab.faults.get('add_refused', []):
        raise _cluster_error('Add-ClusterNode', "The server '%s' could not be added to the cluster. An error occurred "
                             'while adding node to cluster. The operation has timed out.' % name, 'AddNodeFailed',
                             target=name, native_code=1460)
    target.member = True
    target.cluster_service = 'Running'
    target.member_state, target.drain_status, target.joining = 'Up', 'NotInitiated', False
    target.id = str(max(int(n.id) for n in lab.machines.values()) + 1)
    _record(lab, 'node.added', target, os=target.os)
    if level > lab.functional_level:
        # The first newer node makes the cluster mixed-OS and takes the core resources (RU, 2.6).
        core = lab.core_group()
        newer = [n for n in lab.nodes.values() if n.os_info['level'] > lab.functional_level]
        if len(newer) == 1 and core.owner != target.name:
            _record(lab, 'group.moved_to_newer_node', target, group=core.name, source=core.owner)
            core.owner = target.name
    if target.out_since is not None:
        _return_to_service(lab, target)
    lab.after_membership_change(graceful=True)
    return target


def move_groups(lab, names, owner):
    """Move-ClusterVirtualMachineRole -MigrationType Live -Wait 0 (Move-ClusterGroup for other roles)."""
    target = lab.node(owner)
    if target is None:
        raise node_not_found(lab, owner, 'Move-ClusterVirtualMachineRole')
    groups = []
    for name in names:
        group = lab.groups.get(name)
        if group is None:
            raise CmdletError("The cluster group '%s' was not found." % name,
                              'ClusterObjectNotFound,Microsoft.FailoverClusters.PowerShell.MoveClusterVirtualMachineRoleCommand',
                              'ObjectNotFound', target=name, native_code=5013)
        if group.owner != target.name and not group.moving:
            group.drained_from = target.name
            groups.append(group)
    if groups:
        _record(lab, 'groups.move_requested', target, groups=[g.name for g in groups])
        lab.recorder.activity_start(target.name, 'failback')

        def done(op):
            lab.recorder.activity_end(target.name, 'failback')
            _record(lab, 'groups.moved', target, moved=list(op.moved), failed=list(op.failed))
        MoveOperation(lab, 'failback', target, groups, on_done=done).start()
    return groups


# -- Update-ClusterFunctionalLevel, Update-StoragePool, Update-VMVersion -------------------------

def functional_level_blockers(lab):
    """Why Update-ClusterFunctionalLevel would refuse now (RU FAQ: every node on the new OS, on and
    in active membership, not paused). Empty when it may run."""
    out = []
    for n in lab.nodes.values():
        if n.state != 'Up':
            out.append("node '%s' is %s" % (n.name, n.state))
    levels = set(n.os_info['level'] for n in lab.nodes.values())
    if len(levels) > 1:
        older = sorted(n.name for n in lab.nodes.values() if n.os_info['level'] < max(levels))
        out.append('nodes still on the older OS: %s' % ', '.join(older))
    return out


def update_functional_level(lab, what_if):
    blockers = functional_level_blockers(lab)
    if blockers:
        # Terminating ClusterCmdletException, category InvalidOperation (wording UNVERIFIED, 2.11).
        raise _cluster_error('Update-ClusterFunctionalLevel', 'The cluster functional level cannot be updated: %s.'
                             % '; '.join(blockers), 'UpdateClusterFunctionalLevelFailed')
    level = min(n.os_info['level'] for n in lab.nodes.values())
    if not what_if and level > lab.functional_level:
        before = lab.functional_level
        lab.functional_level = level
        lab.upgrade_version = OS_CATALOG[LEVEL_OS[level]]['upgrade']
        lab.recorder.record('cluster.functional_level_updated', before=before, after=level)


def update_pool(lab, name):
    pool = next((p for p in lab.pools if p.friendly_name.lower() == str(name).lower()), None)
    if pool is None:
        raise CmdletError("No MSFT_StoragePool objects found with property 'FriendlyName' equal to '%s'." % name,
                          'CmdletizationQuery_NotFound_FriendlyName,Update-StoragePool', 'ObjectNotFound',
                          exception='Microsoft.Management.Infrastructure.CimException', target=name)
    version = OS_CATALOG[LEVEL_OS[lab.functional_level]]['caption'].replace(' Datacenter', '')
    if pool.version != version:
        lab.recorder.record('storage.pool_updated', pool=pool.friendly_name, before=pool.version, after=version)
        pool.version = version
    return pool


def update_vm_version(lab, node, name, allow_stop):
    """Stop (when allowed), Update-VMVersion -Force, start again, on the VM's owner node."""
    group = lab.groups.get(name)
    if group is None or group.group_type != 'VirtualMachine' or group.owner != node.name:
        raise CmdletError("Hyper-V was unable to find a virtual machine with name '%s'." % name,
                          'InvalidParameter,Microsoft.HyperV.PowerShell.Commands.UpdateVMVersion', 'InvalidArgument',
                          exception='Microsoft.HyperV.PowerShell.VirtualizationException', target=name)
    target = VM_VERSION[LEVEL_OS[lab.functional_level]]
    if float(group.vm_version) >= float(target):
        return group
    running = group.state == 'Online'
    if running and not allow_stop:
        raise CmdletError("The virtual machine '%s' must be turned off to update its configuration version." % name,
                          'InvalidState,Microsoft.HyperV.PowerShell.Commands.UpdateVMVersion', 'InvalidOperation',
                          exception='Microsoft.HyperV.PowerShell.VirtualizationException', target=name)
    before, group.vm_version = group.vm_version, target
    lab.recorder.record('vm.version_updated', group=group.name, before=before, after=target, stopped=running)
    if running:
        # Shut down, update, start again: the VM is off for a guest shutdown and boot (planned).
        seconds = VM_RESTART_SECONDS
        lab.recorder.record('group.offline', group=group.name, state='Off', planned=True)
        group.downtime += seconds
        group.planned_downtime += seconds
        lab.recorder.record('group.online', group=group.name, downtime=seconds, planned=True)
    return group
