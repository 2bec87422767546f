# -*- coding: utf-8 -*-
# Copyright: (c) 2026, wsfc.rolling developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Redfish backend of BmcClient: plain HTTPS with requests (DMTF DSP0266, ComputerSystem schema).

Certificate validation is on unless the user turns it off; ``ca_path`` names the CA bundle and
``fingerprint`` pins the BMC's own certificate (SHA-256), for BMCs with self-signed certificates.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.wsfc.rolling.plugins.module_utils._bmc.client import BmcClient, Busy
from ansible_collections.wsfc.rolling.plugins.module_utils._errors import (
    AuthenticationFailure, ConnectionFailure, MissingDependency, RemoteCommandError)

try:
    import requests
    from requests.adapters import HTTPAdapter
    HAS_REQUESTS = True
except ImportError:
    HAS_REQUESTS = False
    HTTPAdapter = object

TARGETS = {'none': 'None', 'network': 'Pxe', 'disk': 'Hdd', 'cd': 'Cd', 'bios': 'BiosSetup'}
DEVICES = dict((v, k) for k, v in TARGETS.items())
RESET = {'on': 'On', 'off': 'ForceOff', 'soft_off': 'GracefulShutdown', 'cycle': 'ForceRestart'}


class _PinnedAdapter(HTTPAdapter):
    """Checks the server certificate's SHA-256 fingerprint instead of a CA chain (urllib3's
    assert_fingerprint)."""

    def __init__(self, fingerprint, **kwargs):
        self._fingerprint = fingerprint
        super(_PinnedAdapter, self).__init__(**kwargs)

    def init_poolmanager(self, *args, **kwargs):
        kwargs['assert_fingerprint'] = self._fingerprint
        return super(_PinnedAdapter, self).init_poolmanager(*args, **kwargs)


class RedfishClient(BmcClient):

    def __init__(self, options, sleep=None):
        if not HAS_REQUESTS:
            raise MissingDependency('The requests Python library is required for protocol=redfish on the controller.')
        super(RedfishClient, self).__init__(options, sleep)
        o = options
        self.base = 'https://%s:%d' % (o.name, o.port)
        self.http = requests.Session()
        self.http.auth = (o.user, o.password)
        self.http.headers.update({'Accept': 'application/json', 'OData-Version': '4.0'})
        # Passed with every request: a Session-level value would lose to REQUESTS_CA_BUNDLE.
        self.verify = o.ca_path or True
        if o.fingerprint:
            self.http.mount(self.base, _PinnedAdapter(o.fingerprint))
            self.verify = False
        elif not o.validate_certs:
            self.verify = False
        self._system_path = None

    def close(self):
        self.http.close()

    def _request(self, method, path, what, body=None):
        o = self.options
        try:
            reply = self.http.request(method, self.base + path, json=body, timeout=o.timeout, verify=self.verify)
        except requests.exceptions.SSLError as exc:
            raise ConnectionFailure('The certificate of BMC %s could not be validated while trying to %s: %s. Give '
                                    'ca_path (the CA that signed it) or fingerprint (to pin it); validate_certs=false '
                                    'turns the check off.' % (o.name, what, exc), details={'endpoint': o.endpoint, 'permanent': True})
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
            raise ConnectionFailure('BMC %s did not answer over Redfish (HTTPS port %d) while trying to %s: %s'
                                    % (o.name, o.port, what, exc), details={'endpoint': o.endpoint})
        if reply.status_code in (401, 403):
            raise AuthenticationFailure('BMC %s refused %r over Redfish (HTTP %d) while trying to %s'
                                        % (o.name, o.user, reply.status_code, what), details={'endpoint': o.endpoint})
        if reply.status_code in (429, 503):
            raise Busy('HTTP %d' % reply.status_code)
        if reply.status_code >= 400:
            message = reply.text[:300]
            try:
                message = reply.json()['error']['message']
            except (ValueError, KeyError, TypeError):
                pass
            raise RemoteCommandError('BMC %s could not %s over Redfish: HTTP %d: %s'
                                     % (o.name, what, reply.status_code, message),
                                     details={'endpoint': o.endpoint, 'http_status': reply.status_code})
        if reply.status_code == 204 or not reply.content:
            return {}
        try:
            return reply.json()
        except ValueError:
            raise RemoteCommandError('BMC %s answered %s with something that is not JSON' % (o.name, path))

    def _system_uri(self):
        if self._system_path is None:
            members = self._request('GET', '/redfish/v1/Systems', 'list the systems').get('Members') or []
            if not members:
                raise RemoteCommandError('BMC %s lists no computer system' % self.options.name)
            self._system_path = members[0]['@odata.id']
        return self._system_path

    def _read(self):
        return self._request('GET', self._system_uri(), 'read the system')

    def _power_state(self):
        state = self._read().get('PowerState')
        # PoweringOn counts as on and PoweringOff as off: the transition was already asked for.
        return 'on' if state in ('On', 'PoweringOn') else 'off'

    def _set_power(self, action):
        kind = RESET[action]
        if action == 'cycle' and self._power_state() == 'off':
            kind = 'On'
        self._request('POST', self._system_uri() + '/Actions/ComputerSystem.Reset', 'reset the system',
                      body={'ResetType': kind})

    def _boot(self):
        boot = self._read().get('Boot') or {}
        enabled = boot.get('BootSourceOverrideEnabled', 'Disabled')
        target = boot.get('BootSourceOverrideTarget', 'None')
        if enabled == 'Disabled' or target == 'None':
            return {'device': 'none', 'persistent': False, 'uefi': None}
        mode = boot.get('BootSourceOverrideMode')
        return {'device': DEVICES.get(target, target), 'persistent': enabled == 'Continuous',
                'uefi': None if mode is None else mode == 'UEFI'}

    def _set_boot(self, device, persistent, uefi):
        if device == 'none':
            boot = {'BootSourceOverrideEnabled': 'Disabled'}
        else:
            boot = {'BootSourceOverrideTarget': TARGETS[device],
                    'BootSourceOverrideEnabled': 'Continuous' if persistent else 'Once',
                    'BootSourceOverrideMode': 'UEFI' if uefi else 'Legacy'}
        self._request('PATCH', self._system_uri(), 'set the boot override', body={'Boot': boot})

    def _system(self):
        system = self._read()
        out = dict((key, system.get(name)) for key, name in (
            ('manufacturer', 'Manufacturer'), ('model', 'Model'), ('serial_number', 'SerialNumber'),
            ('bios_version', 'BiosVersion'), ('host_name', 'HostName')))
        try:
            managers = self._request('GET', '/redfish/v1/Managers', 'list the managers').get('Members') or []
            if managers:
                out['firmware_version'] = self._request('GET', managers[0]['@odata.id'], 'read the manager').get('FirmwareVersion')
        except RemoteCommandError:
            out['firmware_version'] = None
        return out
