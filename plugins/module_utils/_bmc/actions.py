# -*- coding: utf-8 -*-
# Copyright: (c) 2026, wsfc.rolling developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Declarative power and boot-override changes over any BmcClient: read, decide, act, wait, read back."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.wsfc.rolling.plugins.module_utils._errors import RemoteCommandError, TimeoutFailure
from ansible_collections.wsfc.rolling.plugins.module_utils._wait import wait_until

WANT = {'powered_on': 'on', 'powered_off': 'off', 'restarted': 'on'}


def _wait_power(client, want, timeout, interval):
    return wait_until(client.power_state, timeout, interval, done=lambda s: s == want,
                      describe=lambda s: 'BMC %s still reports power %s (waiting for %s)' % (client.options.name, s, want))


def ensure_power(client, state, graceful=True, graceful_timeout=300, wait=True, wait_timeout=600, poll_interval=5.0,
                 check_mode=False):
    """Bring the chassis to ``state``; returns the module result (changed, power_state, actions, diff).

    ``restarted`` always acts (it cannot be idempotent). A graceful stop asks the OS to shut down
    (ACPI / GracefulShutdown) and switches the power off hard only after ``graceful_timeout``.
    """
    before = client.power_state()
    actions = []
    if state != 'restarted' and before == WANT[state]:
        return dict(changed=False, power_state=before, actions=actions, diff=dict(before={'power': before}, after={'power': before}))
    if check_mode:
        return dict(changed=True, power_state=before, actions=actions,
                    diff=dict(before={'power': before}, after={'power': WANT[state]}))

    def stop():
        if graceful:
            client.set_power('soft_off')
            actions.append('soft_off')
            try:
                _wait_power(client, 'off', graceful_timeout, poll_interval)
                return
            except TimeoutFailure:
                pass  # the OS did not shut down in time: switch off hard, as documented
        client.set_power('off')
        actions.append('off')

    if state == 'powered_off':
        stop()
    elif state == 'powered_on':
        client.set_power('on')
        actions.append('on')
    elif before == 'off':
        client.set_power('on')
        actions.append('on')
    elif graceful:
        stop()
        _wait_power(client, 'off', wait_timeout, poll_interval)
        client.set_power('on')
        actions.append('on')
    else:
        client.set_power('cycle')
        actions.append('cycle')
    after = WANT[state]
    if wait:
        after = _wait_power(client, WANT[state], wait_timeout, poll_interval)
    return dict(changed=True, power_state=after, actions=actions,
                diff=dict(before={'power': before}, after={'power': after}))


def ensure_boot(client, device, persistent=False, uefi=True, check_mode=False):
    """Set the boot override unless it already holds; read it back after setting and compare."""
    want = {'device': device, 'persistent': bool(persistent) if device != 'none' else False,
            'uefi': bool(uefi) if device != 'none' else None}
    before = client.boot()
    same = before['device'] == want['device'] and (
        device == 'none' or (before['persistent'] == want['persistent'] and before.get('uefi') in (None, want['uefi'])))
    if same:
        return dict(changed=False, boot=before, diff=dict(before=before, after=before))
    if check_mode:
        return dict(changed=True, boot=before, diff=dict(before=before, after=want))
    client.set_boot(device, want['persistent'], want['uefi'])
    after = client.boot()
    if after['device'] != want['device'] or (device != 'none' and after['persistent'] != want['persistent']):
        raise RemoteCommandError('BMC %s accepted boot device %s (%s) but reads back %s (%s)'
                                 % (client.options.name, device, 'persistent' if want['persistent'] else 'one-time',
                                    after['device'], 'persistent' if after['persistent'] else 'one-time'),
                                 details={'boot': after})
    return dict(changed=True, boot=after, diff=dict(before=before, after=after))
