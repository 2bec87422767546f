# -*- coding: utf-8 -*-
# Copyright: (c) 2026, wsfc.rolling developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Argument-spec builders shared by the modules (matching the doc fragments)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.module_utils.basic import env_fallback

from ansible_collections.wsfc.rolling.plugins.module_utils._errors import InvalidOption

from ansible_collections.wsfc.rolling.plugins.module_utils._winrm.runner import TRANSPORTS


def winrm_argument_spec():
    """Connection options of the ``wsfc.rolling.winrm`` doc fragment."""
    return dict(
        winrm_host=dict(type='str', fallback=(env_fallback, ['WSFC_WINRM_HOST'])),
        winrm_fallback_hosts=dict(type='list', elements='str', default=[]),
        winrm_port=dict(type='int', fallback=(env_fallback, ['WSFC_WINRM_PORT'])),
        winrm_scheme=dict(type='str', default='https', choices=['https', 'http'],
                          fallback=(env_fallback, ['WSFC_WINRM_SCHEME'])),
        winrm_path=dict(type='str', default='/wsman'),
        winrm_user=dict(type='str', fallback=(env_fallback, ['WSFC_WINRM_USER'])),
        winrm_password=dict(type='str', no_log=True, fallback=(env_fallback, ['WSFC_WINRM_PASSWORD'])),
        winrm_transport=dict(type='str', default='ntlm', choices=list(TRANSPORTS),
                             fallback=(env_fallback, ['WSFC_WINRM_TRANSPORT'])),
        winrm_validate_certs=dict(type='bool', default=True, fallback=(env_fallback, ['WSFC_WINRM_VALIDATE_CERTS'])),
        winrm_ca_path=dict(type='path', fallback=(env_fallback, ['WSFC_WINRM_CA_PATH'])),
        winrm_message_encryption=dict(type='str', default='auto', choices=['auto', 'always', 'never']),
        winrm_kerberos_delegation=dict(type='bool', default=False),
        winrm_delegation=dict(type='str', default='auto', choices=['auto', 'scheduled_task'],
                              fallback=(env_fallback, ['WSFC_WINRM_DELEGATION'])),
        winrm_cert_pem=dict(type='path'),
        winrm_cert_key_pem=dict(type='path', no_log=False),
        winrm_connection_timeout=dict(type='int', default=10),
        winrm_read_timeout=dict(type='int', default=30),
        winrm_operation_timeout=dict(type='int', default=20),
        winrm_allow_insecure=dict(type='bool', default=False, fallback=(env_fallback, ['WSFC_WINRM_ALLOW_INSECURE'])),
    )


def cau_argument_spec():
    """The Updating Run options of the ``wsfc.rolling.cau`` doc fragment (none has a default: unset is not sent)."""
    return dict(
        plugin=dict(type='str', choices=['Microsoft.WindowsUpdatePlugin', 'Microsoft.HotfixPlugin', 'Microsoft.RollingUpgradePlugin']),
        plugin_arguments=dict(type='dict'),
        max_failed_nodes=dict(type='int'),
        max_retries_per_node=dict(type='int'),
        node_order=dict(type='list', elements='str'),
        require_all_nodes_online=dict(type='bool'),
        reboot_timeout_minutes=dict(type='int'),
        failback_mode=dict(type='str', choices=['NoFailback', 'Immediate', 'Policy']),
        wait_for_storage_repair_timeout_minutes=dict(type='int'),
        reboot_mode=dict(type='str', choices=['FullReboot', 'SoftReboot', 'ClusProp', 'PluginCustomReboot', 'OrchestratorDefault']),
        os_rolling_upgrade=dict(type='bool'),
        pre_update_script=dict(type='str'),
        post_update_script=dict(type='str'),
        enable_firewall_rules=dict(type='bool'),
        cau_user=dict(type='str'),
        cau_password=dict(type='str', no_log=True),
    )


def wait_argument_spec(timeout, heartbeat=True):
    """The bounded-wait options every waiting module takes; cluster modules (``heartbeat``) also
    take ``lock_run_id`` (the ``wsfc.rolling.winrm.HEARTBEAT`` doc fragment)."""
    spec = dict(
        wait=dict(type='bool', default=True),
        wait_timeout=dict(type='int', default=timeout),
        poll_interval=dict(type='float', default=5.0),
    )
    if heartbeat:
        spec['lock_run_id'] = dict(type='str')
    return spec


def check_wait_options(params):
    """Raise InvalidOption for non-positive bounds (before anything is sent)."""
    for name in ('wait_timeout', 'poll_interval'):
        if params.get(name) is not None and params[name] <= 0:
            raise InvalidOption('%s must be greater than 0, got %r' % (name, params[name]))


def bmc_argument_spec():
    """Connection options of the ``wsfc.rolling.bmc`` doc fragment (named as community.general's
    ipmi_power / ipmi_boot name them)."""
    return dict(
        name=dict(type='str', required=True, aliases=['bmc_host'], fallback=(env_fallback, ['WSFC_BMC_NAME'])),
        port=dict(type='int', fallback=(env_fallback, ['WSFC_BMC_PORT'])),
        user=dict(type='str', required=True, fallback=(env_fallback, ['WSFC_BMC_USER'])),
        password=dict(type='str', required=True, no_log=True, fallback=(env_fallback, ['WSFC_BMC_PASSWORD'])),
        protocol=dict(type='str', default='ipmi', choices=['ipmi', 'redfish'], fallback=(env_fallback, ['WSFC_BMC_PROTOCOL'])),
        validate_certs=dict(type='bool', default=True, fallback=(env_fallback, ['WSFC_BMC_VALIDATE_CERTS'])),
        ca_path=dict(type='path', fallback=(env_fallback, ['WSFC_BMC_CA_PATH'])),
        fingerprint=dict(type='str', fallback=(env_fallback, ['WSFC_BMC_FINGERPRINT'])),
        timeout=dict(type='int', default=20),
        retries=dict(type='int', default=3),
        system_serial=dict(type='str'),
        system_id=dict(type='str'),
        allow_insecure=dict(type='bool', default=False, fallback=(env_fallback, ['WSFC_BMC_ALLOW_INSECURE'])),
    )
