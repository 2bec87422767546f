"""One node's BMC speaking IPMI 2.0 (RMCP+) over UDP: pyghmi's BMC server class, bound to the lab.

Run as its own process, one per BMC (pyghmi's BMC server class keeps process-wide state: several BMCs in one process cross-talk), by the
lab server, which stops it by PID. Every request asks the lab's control API for the node's chassis
power and boot flags, so the BMC reports exactly what the model holds, and a power or boot change
made here is a change of the model.

Interop with pyghmi's own client, as a suite-3-only BMC behaves:
- an Open Session Request proposing anything but cipher suite 3 (RAKP-HMAC-SHA1, HMAC-SHA1-96,
  AES-CBC-128) is answered with status 0x11 "no matching cipher suite", so the client falls back;
- RAKP 1 naming an unknown user is answered with RAKP 2 status 0x0D "unauthorized name" instead of
  silence.
Fault bmc_unreachable: the BMC drops every packet, as an unplugged management port would.
"""

import argparse
import json
import os
import sys
import threading
import time
import urllib.request

from pyghmi.ipmi import bmc
from pyghmi.ipmi.private import constants, serversession
from pyghmi.ipmi.private import session as ipmisession

# IPMI 2.0 table 28-14, boot device selector (bits 5:2 of boot flags data 2).
DEVICE_CODE = {'none': 0, 'network': 1, 'disk': 2, 'cd': 5, 'bios': 6}
CODE_DEVICE = dict((v, k) for k, v in DEVICE_CODE.items())
SUITE_3 = (1, 1, 1)  # authentication, integrity, confidentiality algorithm numbers


class Control:
    def __init__(self, url, node):
        self.url, self.node = url.rstrip('/'), node

    def state(self):
        with urllib.request.urlopen('%s/bmc/%s' % (self.url, self.node), timeout=5) as reply:
            return json.loads(reply.read())

    def act(self, **doc):
        doc.update(action='bmc', node=self.node)
        request = urllib.request.Request(self.url + '/', data=json.dumps(doc).encode(), method='POST',
                                         headers={'Content-Type': 'application/json'})
        with urllib.request.urlopen(request, timeout=5) as reply:
            reply.read()


class Accounts:
    """authdata for pyghmi: the password of a BMC user, read from the lab at each login."""

    def __init__(self, control):
        self.control = control

    def get(self, user, default=None):
        state = self.control.state()
        return state['password'] if user == state['user'] else default


def _open_session_response(original):
    def respond(self, request):
        request = bytearray(request)
        proposed = (request[12] & 0x3f, request[20] & 0x3f, request[28] & 0x3f) if len(request) >= 32 else SUITE_3
        if proposed != SUITE_3:
            self.clientsessionid = request[4:8]
            return bytearray([request[0], 0x11, 0, 0]) + self.clientsessionid
        return original(self, request)
    return respond


def _rakp1(original):
    def got_rakp1(self, data):
        name = bytes(data[28:])
        if data[27] == 0 or self.authdata.get(name.decode('utf-8', 'replace')) is None:
            message = bytearray([data[0], 0x0d, 0, 0]) + self.clientsessionid
            self.send_payload(message, constants.payload_types['rakp2'], retry=False)
            return
        return original(self, data)
    return got_rakp1


serversession.ServerSession.create_open_session_response = _open_session_response(
    serversession.ServerSession.create_open_session_response)
serversession.ServerSession._got_rakp1 = _rakp1(serversession.ServerSession._got_rakp1)


class LabBmc(bmc.Bmc):
    def __init__(self, control, address, port):
        self.control = control
        super().__init__(Accounts(control), port=port, address=address)
        self.firmwaremajor, self.firmwareminor = 2, 0x41  # BCD minor: 2.41
        self.mfgid, self.prodid = 0xB1F, 0x4C41  # lab values

    def _reachable(self):
        try:
            return not self.control.state().get('unreachable')
        except OSError:
            return False

    def sessionless_data(self, data, sockaddr):
        if self._reachable():
            return super().sessionless_data(data, sockaddr)

    def handle_raw_request(self, request, session):
        if self._reachable():
            return super().handle_raw_request(request, session)

    # chassis
    def get_power_state(self):
        return 'on' if self.control.state()['power'] == 'On' else 'off'

    def power_on(self):
        self.control.act(op='on')

    def power_off(self):
        self.control.act(op='off')

    def power_shutdown(self):
        self.control.act(op='soft')

    def power_cycle(self):
        self.control.act(op='cycle')

    def power_reset(self):
        self.control.act(op='cycle')

    def cold_reset(self):
        return 0

    # System Boot Options parameter 5 (boot flags): valid 0x80, persistent 0x40, EFI 0x20.
    def get_system_boot_options(self, request, session):
        if request['data'][0] & 0x7f != 5:
            return session.send_ipmi_response(code=0x80)
        state = self.control.state()
        device = state['boot_device']
        flags = 0
        if device != 'none':
            flags = 0x80 | (0x40 if state['persistent'] else 0) | (0x20 if state['uefi'] else 0)
        data = [1, 5, flags, DEVICE_CODE[device] << 2, 0, 0, 0]
        return session.send_ipmi_response(data=data)

    def set_system_boot_options(self, request, session):
        data = request['data']
        if data[0] & 0x7f in (0, 3, 4):
            return session.send_ipmi_response()
        if data[0] & 0x7f != 5 or len(data) < 3:
            return session.send_ipmi_response(code=0x80)
        device = CODE_DEVICE.get((data[2] >> 2) & 0x0f)
        if device is None:
            return session.send_ipmi_response(code=0xcc)
        if not data[1] & 0x80:
            device = 'none'
        self.control.act(op='boot', device=device, persistent=bool(data[1] & 0x40), uefi=bool(data[1] & 0x20))
        return session.send_ipmi_response()


def _watch_parent(parent):
    # The lab server stops this process by PID; should the server die first, follow it.
    while True:
        time.sleep(1.0)
        if os.getppid() != parent:
            os._exit(0)


def main(argv=None):
    parser = argparse.ArgumentParser(description='One IPMI BMC of the wsfc.rolling lab.')
    parser.add_argument('--node', required=True)
    parser.add_argument('--address', required=True)
    parser.add_argument('--port', type=int, default=623)
    parser.add_argument('--control', required=True)
    args = parser.parse_args(argv)
    if not args.address.startswith('127.'):
        raise SystemExit('the lab listens on loopback only')
    threading.Thread(target=_watch_parent, args=(os.getppid(),), daemon=True).start()
    LabBmc(Control(args.control, args.node), args.address, args.port)
    sys.stdout.write('ready\n')
    sys.stdout.flush()
    while True:
        ipmisession.Session.wait_for_rsp(30)


if __name__ == '__main__':
    sys.exit(main())
