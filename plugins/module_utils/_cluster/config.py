# -*- coding: utf-8 -*-
# Copyright: (c) 2026, wsfc.rolling developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A node's configuration as the upgrade captures it before eviction and checks after reprovisioning."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.wsfc.rolling.plugins.module_utils._winrm.runner import error_for_record

# What must match after a reinstall, and how items are told apart: a physical adapter keeps its
# MAC address, a disk its serial number (disk numbers may change), addresses and switches their
# names. Features: the captured ones must be installed again; more are allowed.
KEYS = {
    'adapters': ('Name', 'MacAddress'),
    'ip_addresses': ('InterfaceAlias', 'IPAddress', 'PrefixLength'),
    'vswitches': ('Name', 'SwitchType'),
    'disks': ('SerialNumber', 'Size', 'BusType'),
}
SECTIONS = tuple(KEYS) + ('features',)
SOURCE = {'adapters': 'Adapters', 'ip_addresses': 'IPAddresses', 'vswitches': 'VMSwitches', 'disks': 'Disks',
          'features': 'Features'}


def read_config(runner, name):
    """The node's configuration (one round trip on the node itself)."""
    result = runner.invoke([('node.config', {})])[0]
    if not result.ok:
        raise error_for_record("Failed to read the configuration of '%s'" % name, result.error)
    v = result.value
    config = dict((section, list(v.get(SOURCE[section]) or [])) for section in SECTIONS)
    config['features'] = sorted(config['features'])
    config['computer_name'] = v.get('ComputerName')
    config['cluster_addresses'] = sorted(v.get('ClusterAddresses') or [])
    config['os'] = {'caption': v.get('Caption'), 'build': v.get('BuildNumber')}
    return config


def _label(item, keys):
    return ' '.join('%s=%s' % (k, item.get(k)) for k in keys)


def compare(captured, current, sections=SECTIONS):
    """Differences between a capture and the node now: {section: {'missing': [...], 'unexpected': [...]}}.

    Addresses of the cluster's IP Address resources (known from either side) are left out: they are
    on whichever node owns their group at the time, not part of the node.
    """
    moving = set(captured.get('cluster_addresses') or []) | set(current.get('cluster_addresses') or [])
    out = {}
    for section in sections:
        if section == 'features':
            missing = sorted(set(captured.get('features') or []) - set(current.get('features') or []))
            if missing:
                out[section] = {'missing': missing, 'unexpected': []}
            continue
        keys = KEYS[section]
        before = set(_label(i, keys) for i in captured.get(section) or [] if i.get('IPAddress') not in moving)
        now = set(_label(i, keys) for i in current.get(section) or [] if i.get('IPAddress') not in moving)
        if before != now:
            out[section] = {'missing': sorted(before - now), 'unexpected': sorted(now - before)}
    return out
