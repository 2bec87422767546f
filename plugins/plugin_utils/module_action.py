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

from ansible.plugins.action import ActionBase

# Loaded here for the reason given above (the workers inherit them); nothing else uses the name.
from ansible_collections.wsfc.rolling.plugins.module_utils import _module  # noqa: F401 pylint: disable=unused-import
from ansible_collections.wsfc.rolling.plugins.plugin_utils.controller_module import run_module_in_worker


class ActionModule(ActionBase):
    """The action plugin of every wsfc.rolling module (each plugins/action/<module>.py names this class)."""

    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp  # nothing is transferred: the module runs here
        name = (getattr(self._task, 'resolved_action', None) or self._task.action).rsplit('.', 1)[-1]
        result.update(run_module_in_worker(name, self._task.args, bool(self._task.check_mode)))
        return result
