# -*- coding: utf-8 -*-
# Copyright: (c) 2026, wsfc.rolling developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):

    DOCUMENTATION = r'''
options:
  winrm_host:
    description:
      - Address of the WinRM endpoint to reach the cluster through.
      - The cluster name (or its IP address) or any node of the cluster. Cluster-wide commands run on
        whichever node answers; modules that take a node out pick a surviving node themselves.
      - If not set, the value of the E(WSFC_WINRM_HOST) environment variable is used.
    type: str
  winrm_fallback_hosts:
    description:
      - Other ways to the same cluster (the cluster name, other nodes), tried in order when O(winrm_host)
        does not answer, or when it is the node being drained or restarted. Cluster-wide commands never
        run on the node being worked on.
    type: list
    elements: str
    default: []
  winrm_port:
    description:
      - TCP port of the WinRM listener.
      - Defaults to V(5986) with O(winrm_scheme=https) and V(5985) with O(winrm_scheme=http).
      - If not set, the value of the E(WSFC_WINRM_PORT) environment variable is used.
    type: int
  winrm_scheme:
    description:
      - V(https) (the default) or V(http). Plain HTTP must be chosen explicitly; with O(winrm_transport=ntlm)
        or V(kerberos) the messages are still encrypted by the authentication protocol.
      - If not set, the value of the E(WSFC_WINRM_SCHEME) environment variable is used.
    type: str
    choices: [https, http]
    default: https
  winrm_path:
    description: URL path of the WS-Management service.
    type: str
    default: /wsman
  winrm_user:
    description:
      - User to authenticate as, for example V(CONTOSO\\svc-patch) or V(svc-patch@contoso.com).
      - Required with O(winrm_transport=basic), V(ntlm) and V(credssp).
      - If not set, the value of the E(WSFC_WINRM_USER) environment variable is used.
    type: str
  winrm_password:
    description:
      - Password of O(winrm_user).
      - If not set, the value of the E(WSFC_WINRM_PASSWORD) environment variable is used.
    type: str
  winrm_transport:
    description:
      - Authentication protocol.
      - Adding, evicting, starting or stopping nodes and live-migrating VMs over WinRM needs a credential
        the node can pass on (the "double hop"); only V(credssp) and V(kerberos) with
        O(winrm_kerberos_delegation=true) provide one.
      - If not set, the value of the E(WSFC_WINRM_TRANSPORT) environment variable is used.
    type: str
    choices: [basic, ntlm, kerberos, credssp, certificate]
    default: ntlm
  winrm_validate_certs:
    description:
      - Validate the server certificate over HTTPS. V(false) is refused unless O(winrm_allow_insecure=true).
      - If not set, the value of the E(WSFC_WINRM_VALIDATE_CERTS) environment variable is used.
    type: bool
    default: true
  winrm_allow_insecure:
    description:
      - Accept a connection that the network can read or spoof - O(winrm_scheme=http) with V(basic)
        authentication (password and commands in clear text) or with O(winrm_message_encryption=never), or
        O(winrm_validate_certs=false). Without it such settings are refused before anything is sent; with it
        each task that connects that way warns, naming the setting.
      - O(winrm_delegation=scheduled_task) never sends the password over an unencrypted connection, whatever
        this option says.
      - If not set, the value of the E(WSFC_WINRM_ALLOW_INSECURE) environment variable is used.
    type: bool
    default: false
  winrm_ca_path:
    description:
      - PEM file or directory of the certificate authorities to trust for the server certificate,
        instead of the system store.
      - If not set, the value of the E(WSFC_WINRM_CA_PATH) environment variable is used.
    type: path
  winrm_message_encryption:
    description:
      - Message encryption of the authentication protocol (NTLM, Kerberos, CredSSP). V(auto) encrypts over
        HTTP and relies on TLS over HTTPS.
    type: str
    choices: [auto, always, never]
    default: auto
  winrm_kerberos_delegation:
    description: Forward a delegable Kerberos ticket to the node (needed for the double hop).
    type: bool
    default: false
  winrm_delegation:
    description:
      - How cmdlets that reach other nodes from the node they run on get a credential (the WinRM double hop),
        namely C(Add-ClusterNode), C(Remove-ClusterNode) and C(Move-ClusterVirtualMachineRole).
      - V(auto) relies on the transport, that is O(winrm_transport=credssp), or V(kerberos) with
        O(winrm_kerberos_delegation=true). With any other transport such a task fails before sending anything,
        saying so.
      - V(scheduled_task) runs just those cmdlets in a short-lived scheduled task on the node, logged on as
        O(winrm_user) with O(winrm_password) (a logon that holds network credentials), and removes the task
        afterwards. The password travels inside the encrypted WinRM message, never on a command line.
      - If not set, the value of the E(WSFC_WINRM_DELEGATION) environment variable is used.
    type: str
    choices: [auto, scheduled_task]
    default: auto
  winrm_cert_pem:
    description: Client certificate (PEM) for O(winrm_transport=certificate).
    type: path
  winrm_cert_key_pem:
    description: Private key (PEM) of O(winrm_cert_pem).
    type: path
  winrm_connection_timeout:
    description: Seconds to wait for the TCP/TLS connection.
    type: int
    default: 10
  winrm_read_timeout:
    description: Seconds to wait for any HTTP answer. Must be greater than O(winrm_operation_timeout).
    type: int
    default: 30
  winrm_operation_timeout:
    description: Seconds the server may hold one WS-Management request before answering "still running".
    type: int
    default: 20
requirements:
  - pywinrm >= 0.4.0 on the controller (with requests-ntlm for NTLM, pykerberos for Kerberos,
    requests-credssp for CredSSP)
notes:
  - The modules run on the controller (use C(delegate_to) V(localhost), or a play on the controller) and
    reach the cluster over WinRM. Put the connection options once in C(module_defaults) for the
    C(group/wsfc.rolling.winrm) action group.
'''

    WAIT = r'''
options:
  wait:
    description: Wait until the operation has finished (bounded by O(wait_timeout)).
    type: bool
    default: true
  poll_interval:
    description: Seconds between polls (grows up to a few times this value while waiting).
    type: float
    default: 5.0
'''

    HEARTBEAT = r'''
options:
  lock_run_id:
    description:
      - Run id of the run lock (M(wsfc.rolling.cluster_lock)) this task works under. While the module waits,
        it refreshes the lock's heartbeat about once a minute through a surviving node (never the node
        being worked on), so that a live run is not taken for a gone one; and it stops when the lock
        has been taken over by another run.
    type: str
'''

    LEFT_PAUSED = r'''
options:
  left_paused:
    description:
      - Nodes an administrator paused before the run, which the run leaves as they are (a runbook's
        C(<runbook>_allow_paused_nodes)). The cluster-wide checks accept them paused instead of requiring every other
        node Up; quorum and the room for the VMs are still checked without them. Never on Storage Spaces Direct.
    type: list
    elements: str
    default: []
'''

    NODE_ID = r'''
options:
  node_id:
    description:
      - The node's cluster node id (C(id) in M(wsfc.rolling.cluster_info)'s RV(wsfc.rolling.cluster_info#module:nodes)).
        Every round trip then also confirms, where the cluster service runs on O(winrm_host), that the endpoint is
        that node of this cluster, not a machine of the same name in another cluster.
    type: str
'''

    READ_ONLY = r'''
attributes:
  check_mode:
    support: full
    description: The module only reads; it runs the same way in check mode.
  diff_mode:
    support: none
    description: Nothing is changed, so there is no difference to show.
'''
