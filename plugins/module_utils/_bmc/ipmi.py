# -*- coding: utf-8 -*-
# Copyright: (c) 2026, wsfc.rolling developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""IPMI 2.0 (RMCP+) backend of BmcClient, with pyghmi."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.wsfc.rolling.plugins.module_utils._bmc.client import BmcClient, Busy
from ansible_collections.wsfc.rolling.plugins.module_utils._errors import (
    AuthenticationFailure, ConnectionFailure, MissingDependency, RemoteCommandError)

try:
    from pyghmi.exceptions import IpmiException
    from pyghmi.ipmi import command as ipmi_command
    HAS_PYGHMI = True
except ImportError:
    HAS_PYGHMI = False

    class IpmiException(Exception):
        """Stand-in so that the except clauses below stay valid without pyghmi."""

# pyghmi's device names <-> ours (IPMI 2.0 table 28-14 boot device selector).
FROM_PYGHMI = {'network': 'network', 'hd': 'disk', 'optical': 'cd', 'setup': 'bios', 'default': 'none'}
TO_PYGHMI = dict((v, k) for k, v in FROM_PYGHMI.items())
POWER = {'on': 'on', 'off': 'off', 'soft_off': 'shutdown', 'cycle': 'boot'}
# IPMI completion codes that mean "try again later" (IPMI 2.0 table 5-2).
BUSY_CODES = (0xC0, 0xC3, 0xCF)
AUTH_TEXTS = ('password', 'unauthorized', 'privilege', 'authentication')


class IpmiClient(BmcClient):

    def __init__(self, options, sleep=None):
        if not HAS_PYGHMI:
            raise MissingDependency('The pyghmi Python library is required for protocol=ipmi on the controller '
                                    '(pip install pyghmi).')
        super(IpmiClient, self).__init__(options, sleep)
        self._command = None

    def _session(self):
        if self._command is None:
            o = self.options
            # bytes credentials: with str ones pyghmi's session cache hangs on a second Command to
            # the same BMC in one process (pyghmi keeps one session per BMC address and process).
            self._command = self._call(lambda: ipmi_command.Command(
                bmc=o.name, userid=o.user.encode('utf-8'), password=o.password.encode('utf-8'), port=o.port,
                keepalive=False), 'log in')
        return self._command

    def _call(self, func, what):
        o = self.options
        try:
            return func()
        except IpmiException as exc:
            text = str(exc.args[0]) if exc.args and exc.args[0] else ''
            code = getattr(exc, 'ipmicode', None)
            if code in BUSY_CODES:
                raise Busy('completion code 0x%02X' % code)
            if not text or 'timeout' in text.lower() or 'session no longer connected' in text.lower():
                # pyghmi raises with no message when nothing answers.
                self._command = None
                raise ConnectionFailure('BMC %s did not answer over IPMI (UDP port %d) while trying to %s: check the '
                                        'address, the port and that IPMI over LAN is enabled'
                                        % (o.name, o.port, what), details={'endpoint': o.endpoint})
            if any(word in text.lower() for word in AUTH_TEXTS):
                raise AuthenticationFailure('BMC %s refused the login of %r over IPMI: %s'
                                            % (o.name, o.user, text), details={'endpoint': o.endpoint})
            raise RemoteCommandError('BMC %s could not %s over IPMI: %s' % (o.name, what, text),
                                     details={'endpoint': o.endpoint, 'ipmi_code': code})
        except (OSError, ValueError) as exc:
            self._command = None
            raise ConnectionFailure('BMC %s could not be reached over IPMI to %s: %s' % (o.name, what, exc),
                                    details={'endpoint': o.endpoint})

    def _power_state(self):
        command = self._session()
        return self._call(command.get_power, 'read the power state')['powerstate']

    def _set_power(self, action):
        command = self._session()
        self._call(lambda: command.set_power(POWER[action], wait=False), 'set the power')

    def _boot(self):
        command = self._session()
        raw = self._call(command.get_bootdev, 'read the boot override')
        device = FROM_PYGHMI.get(raw.get('bootdev'), raw.get('bootdev'))
        if device == 'none':
            return {'device': 'none', 'persistent': False, 'uefi': None}
        return {'device': device, 'persistent': bool(raw.get('persistent')), 'uefi': raw.get('uefimode')}

    def _set_boot(self, device, persistent, uefi):
        command = self._session()
        self._call(lambda: command.set_bootdev(TO_PYGHMI[device], persist=bool(persistent), uefiboot=bool(uefi)),
                   'set the boot device')

    def _system(self):
        command = self._session()
        # Get Device ID (IPMI 2.0 section 20.1): firmware revision, IPMI version, manufacturer.
        reply = self._call(lambda: command.raw_command(netfn=6, command=1), 'read the device id')
        data = bytearray(reply.get('data') or b'')
        if len(data) < 11:
            return {}
        return {
            'firmware_version': '%d.%02x' % (data[2] & 0x7f, data[3]),
            'ipmi_version': '%d.%d' % (data[4] & 0x0f, data[4] >> 4),
            'manufacturer_id': data[6] | data[7] << 8 | (data[8] & 0x0f) << 16,
            'product_id': data[9] | data[10] << 8,
        }
