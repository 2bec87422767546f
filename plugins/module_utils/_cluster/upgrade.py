# -*- coding: utf-8 -*-
# Copyright: (c) 2026, wsfc.rolling developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Operating-system version upgrades: the N -> N+1 rule, the in-place start, waiting for a build."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.wsfc.rolling.plugins.module_utils._cluster.updates import UNREACHABLE, boot_state
from ansible_collections.wsfc.rolling.plugins.module_utils._errors import InvalidOption, UnsafeToProceed
from ansible_collections.wsfc.rolling.plugins.module_utils._wait import wait_until
from ansible_collections.wsfc.rolling.plugins.module_utils._winrm.runner import error_for_record

# Windows Server builds and the cluster functional level each brings (windows-facts.md 2.1, 2.2).
BUILD_LEVELS = {9600: 8, 14393: 9, 17763: 10, 20348: 11, 26100: 12}
LEVEL_NAMES = {8: 'Windows Server 2012 R2', 9: 'Windows Server 2016', 10: 'Windows Server 2019',
               11: 'Windows Server 2022', 12: 'Windows Server 2025'}


def level_of_build(build):
    if build not in BUILD_LEVELS:
        raise InvalidOption('build %r is not a Windows Server release build this collection knows (%s)'
                            % (build, ', '.join('%d (%s)' % (b, LEVEL_NAMES[l]) for b, l in sorted(BUILD_LEVELS.items()))))
    return BUILD_LEVELS[build]


def check_target(functional_level, target_build):
    """The cluster OS rolling upgrade goes one version at a time, N -> N+1 (RU): refuse the rest.

    Returns the target functional level.
    """
    target = level_of_build(target_build)
    if target <= functional_level:
        raise InvalidOption('target build %d (%s) is not newer than the cluster functional level %d (%s)'
                            % (target_build, LEVEL_NAMES[target], functional_level, LEVEL_NAMES.get(functional_level)))
    if target > functional_level + 1:
        raise InvalidOption('target build %d (%s) skips a version: a cluster OS rolling upgrade goes one version at '
                            'a time (from %s only to %s); run it once per version'
                            % (target_build, LEVEL_NAMES[target], LEVEL_NAMES.get(functional_level),
                               LEVEL_NAMES.get(functional_level + 1)))
    return target


def start_inplace(runner, name, media):
    result = runner.invoke([('node.os_upgrade', {'media': media})])[0]
    if not result.ok:
        raise error_for_record('Failed to start the in-place upgrade of %s from %s' % (name, media), result.error)


def wait_for_build(runner, name, build, timeout, interval):
    """Wait until the node answers WinRM on ``build``.

    The first answer may still come from the old OS going down. A node that answers on another
    build after booting again (boot time later than the node's clock at that first answer, or any
    answer after it was first unreachable) came back on the wrong image or from its old disk: that
    fails at once instead of waiting out the timeout.

    Returns:
        the node's boot state.
    """
    seen = {}

    def poll():
        try:
            state = boot_state(runner, name, poll=True)
        except UNREACHABLE as exc:
            runner.close()
            seen.setdefault('first', None)
            return {'unreachable': str(exc)}
        seen.setdefault('first', state.get('Now'))
        return state

    def done(state):
        if state.get('unreachable'):
            return False
        if int(state.get('BuildNumber') or 0) == build:
            return True
        started = seen.get('first')
        if started is None or state.get('LastBootUpTime', '') > started:
            raise UnsafeToProceed('%s came back on build %s (%s), not on the target build %d: check the image the '
                                  'deployment server offers it' % (name, state.get('BuildNumber'), state.get('Caption'), build),
                                  details={'boot': state})
        return False

    def describe(state):
        if state.get('unreachable'):
            return '%s does not answer WinRM yet (%s); waiting for it on build %d' % (name, state['unreachable'], build)
        return '%s still answers on build %s; waiting for build %d' % (name, state.get('BuildNumber'), build)

    return wait_until(poll, timeout, interval=interval, describe=describe, done=done)
