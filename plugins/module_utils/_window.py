# -*- coding: utf-8 -*-
# Copyright: (c) 2026, wsfc.rolling developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The runbook's choices that shorten the maintenance window: what was done while the nodes served (pre-staging,
install while serving), and where a leapfrog drain sends a node's VMs."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.wsfc.rolling.plugins.module_utils._plan import _flag, run_state

FACTS = '__runbook'


def staged_line(result, node, install_while_serving=False):
    """One line on what the pre-phase did on ``node`` while it served: downloaded / installed (its restart pending) /
    not installed and why / failed (its cycle does the work)."""
    result = result or {}
    if result.get('failed'):
        return '%s: %s failed (%s); its cycle does it, drained' % (
            node, 'installing while serving' if install_while_serving else 'downloading ahead', result.get('msg') or 'no reason given')
    if result.get('refused'):
        return '%s: %s; its cycle installs, drained' % (node, result['refused'])
    if install_while_serving:
        installed = [u['kb'] for u in result.get('installed') or []]
        if not installed:
            return '%s: nothing to install while serving' % node
        return '%s: installed while serving: %s%s' % (node, ', '.join(installed),
                                                      '; its restart is pending' if result.get('reboot_required') else '')
    downloaded = result.get('downloaded') or []
    if not downloaded:
        return '%s: nothing to download' % node
    fresh = [u['kb'] for u in downloaded if not u.get('downloaded_before')]
    return '%s: downloaded ahead: %s%s' % (node, ', '.join(fresh) or 'nothing new',
                                           ' (already there: %s)' % ', '.join(u['kb'] for u in downloaded if u.get('downloaded_before'))
                                           if len(fresh) < len(downloaded) else '')


def staged_boot(result):
    """The boot time a node had when its updates were installed while it served and left its restart pending; '' when
    that did not happen (nothing installed, refused, failed): then nothing is to be watched for."""
    result = result or {}
    if result.get('failed') or result.get('refused') or not result.get('installed') or not result.get('reboot_required'):
        return ''
    return result.get('boot_time') or ''


def leapfrog_targets(host, hostvars):
    """The nodes of ``host``'s cluster updated before it in this run, the most recent first, as the cluster names them:
    where a leapfrog drain may send its VMs (the gate picks the first with room)."""
    state = run_state(host, hostvars)
    queue = list(state.get('queue') or [])
    if host not in queue:
        return []
    done = [h for h in queue[:queue.index(host)] if _flag((hostvars.get(h) or {}).get(FACTS + '_node_done'))]
    return [run_state(h, hostvars)['node'] for h in reversed(done)]
