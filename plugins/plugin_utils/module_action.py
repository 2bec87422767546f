# -*- coding: utf-8 -*-
# Copyright: (c) 2026, wsfc.rolling developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The action plugin class of every wsfc.rolling module: runs the module in the worker (controller_module.py).

This file is imported by the strategy in the ``ansible-playbook`` process before it forks its workers
(``action_loader.get(..., class_only=True)``); the import of the modules' glue below therefore loads pywinrm,
requests and the collection's module_utils once, and every worker inherits them.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import time

from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

# Loaded here for the reason given above (the workers inherit them); nothing else uses the name.
from ansible_collections.wsfc.rolling.plugins.module_utils import _module  # noqa: F401 pylint: disable=unused-import
from ansible_collections.wsfc.rolling.plugins.plugin_utils.controller_module import run_module_in_worker


# Seconds between two progress lines of a long wait (a drain, an install, a restart, a resync): at least one a
# minute, as the operator (and AWX's job output) should see what is being waited for. WSFC_PROGRESS_INTERVAL
# changes it.
PROGRESS_INTERVAL = 60.0
display = Display()


def progress_interval(environ=None):
    """The seconds between progress lines: WSFC_PROGRESS_INTERVAL when it is a positive number, else 60."""
    try:
        value = float((environ if environ is not None else os.environ).get('WSFC_PROGRESS_INTERVAL', PROGRESS_INTERVAL))
    except ValueError:
        return PROGRESS_INTERVAL
    return value if value > 0 else PROGRESS_INTERVAL


class ActionModule(ActionBase):
    """The action plugin of every wsfc.rolling module (each plugins/action/<module>.py names this class)."""

    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp  # nothing is transferred: the module runs here
        name = (getattr(self._task, 'resolved_action', None) or self._task.action).rsplit('.', 1)[-1]
        host = (task_vars or {}).get('inventory_hostname', '')

        def progress(text):
            display.display('[%s] %s' % (host, text))
        started = time.time()
        result.update(run_module_in_worker(name, self._task.args, bool(self._task.check_mode), progress, progress_interval()))
        # When the module ran (epoch seconds): the run's report lays each phase of a node out on a timeline.
        result.update(started=round(started, 3), ended=round(time.time(), 3))
        return result
