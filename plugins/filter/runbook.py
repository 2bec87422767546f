# -*- coding: utf-8 -*-
# Copyright: (c) 2026, wsfc.rolling developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# The filters are documented in <name>.yml beside this file.

from ansible_collections.wsfc.rolling.plugins.module_utils._cluster.doctor import finding_line, node_entry
from ansible_collections.wsfc.rolling.plugins.module_utils._plan import (
    cluster_hosts, cluster_outcome, cluster_summary, failed_nodes, failure_report, fleet, fleet_map, fleet_queue, fleet_summary,
    estimate, next_node, node_hosts, node_recovery, plan, plan_summary, reprovision_step, run_state, upgrade_node)
from ansible_collections.wsfc.rolling.plugins.module_utils._report import report_files, run_report
from ansible_collections.wsfc.rolling.plugins.module_utils._runbook import option_errors, task_file
from ansible_collections.wsfc.rolling.plugins.module_utils._window import leapfrog_targets, staged_boot, staged_line


class FilterModule(object):
    def filters(self):
        return {'option_errors': option_errors, 'task_file': task_file, 'doctor_node': node_entry,
                'doctor_line': finding_line, 'rolling_plan': plan, 'cluster_hosts': cluster_hosts, 'fleet': fleet,
                'fleet_queue': fleet_queue, 'fleet_map': fleet_map, 'next_node': next_node, 'cluster_outcome': cluster_outcome,
                'cluster_summary': cluster_summary, 'fleet_summary': fleet_summary, 'run_state': run_state,
                'failure_report': failure_report, 'plan_summary': plan_summary,
                'failed_nodes': failed_nodes, 'node_hosts': node_hosts, 'upgrade_node': upgrade_node, 'reprovision_step': reprovision_step,
                'run_report': run_report, 'report_files': report_files, 'plan_estimate': estimate,
                'node_recovery': node_recovery, 'staged_line': staged_line, 'staged_boot': staged_boot,
                'leapfrog_targets': leapfrog_targets}
