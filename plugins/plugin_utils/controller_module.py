# -*- coding: utf-8 -*-
# Copyright: (c) 2026, wsfc.rolling developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run a wsfc.rolling module inside the controller's worker process instead of shipping it.

Every module of this collection runs on the controller anyway (it reaches the cluster over WinRM and the
BMCs over IPMI or Redfish), so packing it, starting a new Python interpreter and importing pywinrm again
for every task only costs time: about 0.4 s of CPU per task on a small machine, which on a fleet is what
limits the run. The action plugin of the same name as each module imports the module and calls its
``main()`` here, with the module's ``AnsibleModule`` replaced by :class:`ControllerModule`, which takes
its arguments from the task (after ``module_defaults``), validates them with the module's own argument
spec (types, defaults, environment fallbacks, choices, ``no_log``), and hands the result back instead of
printing it. Check mode, ``module_defaults``, ``no_log`` and the result's warnings behave as for a
shipped module.

Nothing here imports Ansible's controller code (module_action.py holds the action plugin class), so the
modules' own unit tests, which run AnsibleModule in the same process, are not turned into controller code.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import importlib

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.common.parameters import remove_values
from ansible_collections.wsfc.rolling.plugins.module_utils._wait import report_progress

MODULES = 'ansible_collections.wsfc.rolling.plugins.modules.'


class _Finished(Exception):
    """Raised by exit_json and fail_json: carries the module's result out of its main()."""

    def __init__(self, result):
        super(_Finished, self).__init__('module finished')
        self.result = result


class ControllerModule(object):
    """What this collection's modules use of AnsibleModule, for a module run inside the worker."""

    def __init__(self, args, check_mode, name):
        self._args = args
        self._name = name
        self.check_mode = check_mode
        self.params = {}
        self._warnings = []
        self._no_log_values = set()

    def __call__(self, argument_spec, supports_check_mode=False, **constraints):
        """Stands in for ``AnsibleModule(argument_spec=..., ...)`` in the module's main()."""
        validation = ArgumentSpecValidator(argument_spec, **constraints).validate(self._args)
        self._no_log_values = validation._no_log_values
        for item in validation._warnings:
            self._warnings.append(item.get('warning', str(item)) if isinstance(item, dict) else str(item))
        if validation.error_messages:
            self.fail_json(msg='%s: %s' % (self._name, '; '.join(validation.error_messages)))
        self.params = validation.validated_parameters
        if self.check_mode and not supports_check_mode:
            raise _Finished({'skipped': True, 'msg': '%s does not support check mode' % self._name})
        return self

    def warn(self, text):
        self._warnings.append(text)

    def exit_json(self, **result):
        raise _Finished(self._finish(result))

    def fail_json(self, msg, **result):
        result.update(failed=True, msg=msg)
        raise _Finished(self._finish(result))

    def _finish(self, result):
        result.setdefault('changed', False)
        if self._warnings:
            result['warnings'] = list(self._warnings)
        return remove_values(result, self._no_log_values)


def run_module_in_worker(name, args, check_mode, progress=None, progress_every=60.0):
    """Run the collection's module ``name`` with the task's ``args``; return its result dict. ``progress(text)``
    receives the state of its long waits while it runs, at most every ``progress_every`` seconds."""
    module = importlib.import_module(MODULES + name)
    stand_in = ControllerModule(dict(args), check_mode, 'wsfc.rolling.' + name)
    shipped = module.AnsibleModule
    module.AnsibleModule = stand_in
    report_progress(progress, progress_every)
    try:
        module.main()
    except _Finished as finished:
        return finished.result
    finally:
        module.AnsibleModule = shipped
        report_progress(None)
    return stand_in._finish({'failed': True, 'msg': '%s ended without a result' % name})
