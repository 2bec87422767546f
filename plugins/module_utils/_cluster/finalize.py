# -*- coding: utf-8 -*-
# Copyright: (c) 2026, wsfc.rolling developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one-way steps after a rolling upgrade: functional level, storage pool, VM configuration versions
(windows-behaviour.md §8, §14; in this order, each irreversible)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.wsfc.rolling.plugins.module_utils._cluster import model
from ansible_collections.wsfc.rolling.plugins.module_utils._errors import UnsafeToProceed
from ansible_collections.wsfc.rolling.plugins.module_utils._winrm.runner import error_for_record


def read(session):
    calls = [('cluster.get', {}), ('cluster.nodes', {}), ('storage.pools', {})]
    cluster, nodes, pools = session.invoke(calls, retry=True)
    for result, what in ((cluster, 'the cluster'), (nodes, 'the nodes'), (pools, 'the storage pools')):
        if not result.ok:
            raise error_for_record('Failed to read %s' % what, result.error)
    return (model.ClusterProperties.from_ps(cluster.value), [model.Node.from_ps(n) for n in nodes.value or []],
            list(pools.value or []))


def blockers(nodes):
    """Why Update-ClusterFunctionalLevel must not run: every node Up (not Paused, not Down) and all on
    the same, newer OS (RU FAQ)."""
    out = ['%s is %s' % (n.name, n.state) for n in nodes if n.state != 'Up']
    top = max(n.functional_level for n in nodes)
    older = [n.name for n in nodes if n.functional_level < top]
    if older:
        out.append('still on the older OS: %s' % ', '.join(older))
    return out


def update_level(session, what_if):
    """Update-ClusterFunctionalLevel; with ``what_if`` only its own check (-WhatIf)."""
    result = session.invoke([('cluster.functional_level', {'what_if': what_if})])[0]
    if not result.ok:
        raise error_for_record('Update-ClusterFunctionalLevel%s refused' % (' -WhatIf' if what_if else ''), result.error)
    return result.value


def pool_outdated(pool, level):
    """A pool whose version does not name the release of ``level`` (PowerShell shows e.g.
    'Windows Server 2022'; the exact strings are UNVERIFIED, windows-behaviour.md §8)."""
    return model.FUNCTIONAL_LEVELS.get(level, '') not in str(pool.get('Version') or '')


def update_pool(session, name):
    result = session.invoke([('storage.pool_update', {'name': name})])[0]
    if not result.ok:
        raise error_for_record("Update-StoragePool of '%s' failed" % name, result.error)
    return result.value


def list_vms(runner, node):
    result = runner.invoke([('vm.list', {})])[0]
    if not result.ok:
        raise error_for_record('Failed to list the virtual machines on %s' % node, result.error)
    return list(result.value or [])


def vm_outdated(vm):
    def number(text):
        return tuple(int(x) for x in str(text or '0').split('.') if x.isdigit())
    return number(vm.get('Version')) < number(vm.get('HostDefault'))


def update_vm(runner, name, allow_stop):
    result = runner.invoke([('vm.update_version', {'name': name, 'allow_stop': allow_stop})])[0]
    if not result.ok:
        raise error_for_record("Update-VMVersion of '%s' failed" % name, result.error)
    return result.value


def require(condition, message):
    if not condition:
        raise UnsafeToProceed(message)
