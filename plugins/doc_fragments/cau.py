# -*- coding: utf-8 -*-
# Copyright: (c) 2026, wsfc.rolling developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):

    # The Updating Run's options, as Invoke-CauRun and the CAU clustered role take them (unset: not sent, CAU's own
    # default for a run, the role's current setting for the role).
    DOCUMENTATION = r'''
options:
  plugin:
    description: CAU plug-in (C(-CauPluginName)); for a run, unset is V(Microsoft.WindowsUpdatePlugin).
    type: str
    choices: [Microsoft.WindowsUpdatePlugin, Microsoft.HotfixPlugin, Microsoft.RollingUpgradePlugin]
  plugin_arguments:
    description:
      - The plug-in's arguments (C(-CauPluginArguments)), name and value. V(Microsoft.HotfixPlugin) needs
        C(HotfixRootFolderPath); V(Microsoft.RollingUpgradePlugin) needs C(WuConnected) (V('true'), or V('false') with
        C(PathToSetupMedia)) and takes C(UpdateClusterFunctionalLevel) (V('true') raises the functional level at the
        end, which cannot be undone). V(Microsoft.WindowsUpdatePlugin) takes C(IncludeRecommendedUpdates), C(QueryString).
    type: dict
  max_failed_nodes:
    description: Nodes that may fail before the run stops (C(-MaxFailedNodes)); one more stops it. 0 to nodes - 1.
    type: int
  max_retries_per_node:
    description: Retries of the update process per node (C(-MaxRetriesPerNode)), 0 to 64.
    type: int
  node_order:
    description: Node names in the order to update (C(-NodeOrder)); by default CAU starts with the node owning the fewest roles.
    type: list
    elements: str
  require_all_nodes_online:
    description: Refuse to start unless every node is online (C(-RequireAllNodesOnline)).
    type: bool
  reboot_timeout_minutes:
    description: Minutes a node may take to restart before it counts as failed (C(-RebootTimeoutMinutes)).
    type: int
  failback_mode:
    description: How the drained roles come back (C(-FailbackMode)).
    type: str
    choices: [NoFailback, Immediate, Policy]
  wait_for_storage_repair_timeout_minutes:
    description: Minutes to wait for the storage repair after each node (C(-WaitForStorageRepairTimeoutMinutes); Windows Server 2025 and later).
    type: int
  reboot_mode:
    description: The restart CAU uses (C(-RebootMode)); V(SoftReboot) skips firmware POST where the build supports it.
    type: str
    choices: [FullReboot, SoftReboot, ClusProp, PluginCustomReboot, OrchestratorDefault]
  os_rolling_upgrade:
    description: Upgrade the nodes' OS without stopping Hyper-V or Scale-Out File Server workloads (C(-OsRollingUpgrade)).
    type: bool
  pre_update_script:
    description: A C(.ps1) every node runs before it is paused (C(-PreUpdateScript)); when it fails the node is not updated.
    type: str
  post_update_script:
    description: A C(.ps1) every node runs after it leaves maintenance (C(-PostUpdateScript)).
    type: str
  enable_firewall_rules:
    description: Enable the Remote Shutdown firewall rule group on every node (C(-EnableFirewallRules)).
    type: bool
  cau_user:
    description: Account CAU acts as (C(-Credential); a run's task logs on as it). Default the WinRM user.
    type: str
  cau_password:
    description: Password of O(cau_user).
    type: str
'''
