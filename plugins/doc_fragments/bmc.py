# -*- coding: utf-8 -*-
# Copyright: (c) 2026, wsfc.rolling developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):

    DOCUMENTATION = r'''
options:
  name:
    description:
      - Address or host name of the node's BMC (baseboard management controller).
      - Named as in community.general's C(ipmi_power) and C(ipmi_boot), so tasks move over unchanged.
      - If not set, the value of the E(WSFC_BMC_NAME) environment variable is used.
    type: str
    required: true
    aliases: [bmc_host]
  port:
    description:
      - Port of the BMC. Defaults to V(623) (UDP) with O(protocol=ipmi) and V(443) (HTTPS) with O(protocol=redfish).
      - If not set, the value of the E(WSFC_BMC_PORT) environment variable is used.
    type: int
  user:
    description:
      - BMC user.
      - If not set, the value of the E(WSFC_BMC_USER) environment variable is used.
    type: str
    required: true
  password:
    description:
      - Password of O(user).
      - If not set, the value of the E(WSFC_BMC_PASSWORD) environment variable is used.
    type: str
    required: true
  protocol:
    description:
      - V(ipmi) speaks IPMI 2.0 over LAN (RMCP+, cipher suite 3 or 17) with the pyghmi library.
      - V(redfish) speaks DMTF Redfish over HTTPS with the requests library.
      - If not set, the value of the E(WSFC_BMC_PROTOCOL) environment variable is used.
    type: str
    choices: [ipmi, redfish]
    default: ipmi
  validate_certs:
    description:
      - Validate the BMC's HTTPS certificate (O(protocol=redfish)). Keep it on; give O(ca_path) or
        O(fingerprint) for BMCs with their own CA or a self-signed certificate.
      - If not set, the value of the E(WSFC_BMC_VALIDATE_CERTS) environment variable is used.
    type: bool
    default: true
  ca_path:
    description:
      - CA bundle (PEM) to validate the BMC's certificate with (O(protocol=redfish)).
      - If not set, the value of the E(WSFC_BMC_CA_PATH) environment variable is used.
    type: path
  fingerprint:
    description:
      - SHA-256 fingerprint of the BMC's own certificate (hex, colons allowed). When set, the certificate
        is pinned (it must match exactly, and no CA chain is needed) (O(protocol=redfish)).
      - If not set, the value of the E(WSFC_BMC_FINGERPRINT) environment variable is used.
    type: str
  timeout:
    description: Seconds to wait for one answer of the BMC (HTTPS requests; IPMI has its own retransmission timers).
    type: int
    default: 20
  retries:
    description:
      - How many times a request is sent again when the BMC is busy or does not answer, with the pause
        doubling from 1 second. Power actions are not repeated after a lost answer (the state is read
        again instead), and a refused login is never retried (BMCs lock accounts).
    type: int
    default: 3
  allow_insecure:
    description:
      - Accept O(validate_certs=false) with O(protocol=redfish) and no O(fingerprint) (any certificate, so anyone on
        the path can pose as the BMC). Refused without it; with it every task warns.
      - If not set, the value of the E(WSFC_BMC_ALLOW_INSECURE) environment variable is used.
    type: bool
    default: false
  system_serial:
    description:
      - Serial number of the system this BMC must manage, for example the cluster node's C(serial_number)
        from M(wsfc.rolling.cluster_info). When set, the BMC's system is read first and a BMC that manages
        another system is refused before any command is sent to it.
      - Redfish reports the serial number of the ComputerSystem. IPMI's Get Device ID carries none, and
        then the identity cannot be confirmed (the result says so); nothing is refused for that alone.
    type: str
  system_id:
    description:
      - The Redfish C(Id) (or C(@odata.id)) of the ComputerSystem this BMC manages for the node, for a BMC that lists
        several (a chassis or enclosure manager). Without it, such a BMC's system is chosen by O(system_serial);
        without either, nothing is sent and the task names the systems it found. A BMC with one system needs neither.
      - Ignored with O(protocol=ipmi).
    type: str
notes:
  - The modules run on the controller (or wherever the task is delegated to) and need network access to the
    BMCs; use C(delegate_to) V(localhost) or a play on the controller.
  - All BMC modules are in the C(wsfc.rolling.bmc) action group, so O(user), O(password) and O(protocol)
    can be given once in C(module_defaults).
requirements:
  - pyghmi (O(protocol=ipmi))
  - requests (O(protocol=redfish))
'''
