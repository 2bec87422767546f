# -*- coding: utf-8 -*-
# Copyright: (c) 2026, wsfc.rolling developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Glue used by every module: the one place where collection errors become ``fail_json``."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.wsfc.rolling.plugins.module_utils._bmc.client import BmcOptions
from ansible_collections.wsfc.rolling.plugins.module_utils._cluster import lock
from ansible_collections.wsfc.rolling.plugins.module_utils._cluster.session import ClusterSession
from ansible_collections.wsfc.rolling.plugins.module_utils._errors import CollectionError
from ansible_collections.wsfc.rolling.plugins.module_utils._wait import clear_poll_callbacks, on_poll
from ansible_collections.wsfc.rolling.plugins.module_utils._winrm.runner import (
    PowerShellRunner,
    WinRMOptions,
    clear_remote_warnings,
    remote_warnings,
)


def run_module(module, body):
    """Run ``body(module)``, which returns the result dict, and exit the module with it.

    Any CollectionError fails the task with its message, its class name as ``error_type`` and its
    structured details; nothing else is caught (a bug should show its traceback).
    """
    clear_poll_callbacks()
    clear_remote_warnings()
    heartbeat = None
    try:
        _warn_insecure(module)
        heartbeat = _register_heartbeat(module)
        result = body(module)
    except CollectionError as exc:
        extra = dict(exc.details)
        _warn_remote(module)
        module.fail_json(msg=str(exc), error_type=type(exc).__name__, **extra)
    finally:
        # The heartbeat is this task's: nothing of it outlives the task, and its shell (and the warm PowerShell
        # in it) goes now, not at the node's idle timeout.
        clear_poll_callbacks()
        if heartbeat is not None:
            heartbeat.close()
    _warn_remote(module)
    module.exit_json(**result)


def _warn_remote(module):
    """Warnings the nodes wrote (FailoverClusters in a remote session, a cmdlet's own) become the
    task's warnings, never its failure."""
    for text in remote_warnings():
        module.warn(text)


def _warn_insecure(module):
    """An insecure connection the user accepted (winrm_allow_insecure, allow_insecure) is named in a
    warning every time."""
    p = module.params
    if p.get('winrm_allow_insecure') and p.get('winrm_host'):
        for choice in WinRMOptions.from_params(p).insecure_choices():
            module.warn('Insecure WinRM connection accepted by winrm_allow_insecure: %s' % choice)
    if p.get('allow_insecure') and 'system_serial' in p:
        for choice in BmcOptions.from_params(p).insecure_choices():
            module.warn('Insecure BMC connection accepted by allow_insecure: %s' % choice)


def _register_heartbeat(module):
    """With ``lock_run_id``, every wait of this task refreshes the run lock's heartbeat. Returns the session it
    writes through (to close when the task ends), or None."""
    run_id = module.params.get('lock_run_id')
    if not run_id or module.check_mode:
        return None
    options = WinRMOptions.from_params(module.params)
    session = ClusterSession(options, module.params.get('winrm_fallback_hosts') or [], exclude=module.params.get('name'))
    on_poll(lock.Heartbeat(session, run_id).beat)
    return session


def runner_from_module(module, host=None, node=None):
    """A PowerShellRunner for the module's WinRM options (``host`` overrides winrm_host).

    ``node``: the cluster node the endpoint must be; every round trip then confirms it (WrongNode),
    with the module's ``node_id`` option too where it has one.
    """
    return PowerShellRunner(WinRMOptions.from_params(module.params, host=host), expect_node=node,
                            expect_node_id=module.params.get('node_id') if node else None)


def session_from_module(module, exclude=None, host=None):
    """A ClusterSession over winrm_host (or ``host``) and winrm_fallback_hosts, never on the node ``exclude``."""
    options = WinRMOptions.from_params(module.params, host=host)
    return ClusterSession(options, module.params.get('winrm_fallback_hosts') or [], exclude=exclude)
