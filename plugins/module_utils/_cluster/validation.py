# -*- coding: utf-8 -*-
# Copyright: (c) 2026, wsfc.rolling developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cluster validation (Test-Cluster): which categories may run on a live cluster, and the verdict per category."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.wsfc.rolling.plugins.module_utils._errors import InvalidOption
from ansible_collections.wsfc.rolling.plugins.module_utils._winrm.runner import error_for_record

# Test-Cluster's categories (PS:Test-Cluster). Storage is left out by default: with disks named it takes them
# offline for its tests (windows-behaviour.md §13).
CATEGORIES = ('Inventory', 'Network', 'System Configuration', 'Cluster Configuration', 'Hyper-V Configuration',
              'Storage Spaces Direct', 'Storage')
DEFAULT = ('Inventory', 'Network', 'System Configuration', 'Cluster Configuration')


def check(categories, disks, allow_disruptive):
    """InvalidOption for an unknown category, or storage disks without the opt-in (before anything runs)."""
    unknown = [c for c in categories if c not in CATEGORIES]
    if unknown:
        raise InvalidOption('categories has unknown Test-Cluster categories %s (known: %s)'
                            % (', '.join(repr(c) for c in unknown), ', '.join(CATEGORIES)))
    if disks and not allow_disruptive:
        raise InvalidOption('disks %s would be taken offline for the storage tests (Test-Cluster -Disk -Force): whatever '
                            'runs on them stops. Set allow_disruptive_storage_tests=true only in a maintenance window'
                            % ', '.join(disks))
    if disks and 'Storage' not in categories:
        raise InvalidOption('disks are tested only with the Storage category in categories')


def run(session, categories, nodes=(), disks=()):
    """Test-Cluster per category; returns (summary, per-category results)."""
    params = {'categories': list(categories), 'nodes': list(nodes), 'disks': list(disks)}
    result = session.invoke([('cluster.validate', params)])[0]
    if not result.ok:
        raise error_for_record('Test-Cluster failed', result.error)
    out = []
    for row in result.value or []:
        errors, warnings = list(row.get('Errors') or []), list(row.get('Warnings') or [])
        out.append({'category': row.get('Category'), 'result': 'Failed' if errors else 'Warning' if warnings else 'Passed',
                    'errors': errors, 'warnings': warnings, 'report': row.get('Report')})
    summary = dict((verdict, [r['category'] for r in out if r['result'] == verdict]) for verdict in ('Passed', 'Warning', 'Failed'))
    summary['result'] = 'Failed' if summary['Failed'] else 'Warning' if summary['Warning'] else 'Passed'
    return summary, out


def line(summary, results):
    """One line: the verdict and, per category that did not pass, its first message."""
    text = 'Cluster validation: %s' % summary['result']
    notes = ['%s %s (%s)' % (r['category'], r['result'], (r['errors'] or r['warnings'])[0]) for r in results
             if r['result'] != 'Passed']
    return text + ('; ' + '; '.join(notes) if notes else '; every category passed')
