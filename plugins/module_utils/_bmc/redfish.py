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
    AuthenticationFailure, ConnectionFailure, InvalidOption, MissingDependency, RemoteCommandError, WrongNode)

try:
    import requests
    from requests.adapters import HTTPAdapter
    HAS_REQUESTS = True
except ImportError:
    HAS_REQUESTS = False
    HTTPAdapter = object

TARGETS = {'none': 'None', 'network': 'Pxe', 'disk': 'Hdd', 'cd': 'Cd', 'bios': 'BiosSetup'}
DEVICES = dict((v, k) for k, v in TARGETS.items())
# The ResetType values each power action may use, in order of preference; the first the system allows is sent
# (BMCs publish a subset in ResetType@Redfish.AllowableValues: one has ForceRestart and no PowerCycle, another the
# reverse). A system that publishes none is sent the first.
RESET = {'on': ('On', 'ForceOn'), 'off': ('ForceOff',), 'soft_off': ('GracefulShutdown',),
         'cycle': ('ForceRestart', 'PowerCycle')}


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
        self._etag = None

    def close(self):
        self.http.close()

    def _request(self, method, path, what, body=None, headers=None):
        o = self.options
        try:
            reply = self.http.request(method, self.base + path, json=body, timeout=o.timeout, verify=self.verify,
                                      headers=headers)
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
            doc = reply.json()
        except ValueError:
            raise RemoteCommandError('BMC %s answered %s with something that is not JSON' % (o.name, path))
        if method == 'GET' and path == self._system_path:
            # The version of the system resource a PATCH must name (If-Match): the ETag header, else @odata.etag.
            self._etag = reply.headers.get('ETag') or doc.get('@odata.etag')
        return doc

    def _system_uri(self):
        """The ComputerSystem this client acts on. A BMC that lists several (a chassis manager, a multi-node
        enclosure) is never guessed at: the one named by ``system_id``, else the one whose serial number is
        ``system_serial``, else the run stops naming them."""
        if self._system_path is None:
            o = self.options
            members = [m['@odata.id'] for m in self._request('GET', '/redfish/v1/Systems', 'list the systems').get('Members') or []]
            if not members:
                raise RemoteCommandError('BMC %s lists no computer system' % o.name)
            ids = [m.rstrip('/').rsplit('/', 1)[-1] for m in members]
            if o.system_id:
                chosen = [m for m, i in zip(members, ids) if o.system_id in (i, m)]
                if not chosen:
                    raise InvalidOption('BMC %s has no system %s (system_id); its systems: %s' % (o.name, o.system_id, ', '.join(ids)))
                self._system_path = chosen[0]
            elif len(members) == 1:
                self._system_path = members[0]
            elif o.system_serial:
                serials = dict((m, str(self._request('GET', m, 'read system %s' % i).get('SerialNumber') or '').strip())
                               for m, i in zip(members, ids))
                chosen = [m for m in members if serials[m].lower() == o.system_serial.lower()]
                if not chosen:
                    raise WrongNode('BMC %s manages %d systems and none has serial number %s (the node it was given for): '
                                    'nothing was sent to it (serial numbers: %s). Check wsfc_bmc_host, or name the system '
                                    'with system_id' % (o.name, len(members), o.system_serial,
                                                        ', '.join('%s %s' % (i, serials[m] or 'none') for m, i in zip(members, ids))),
                                    details={'endpoint': o.name, 'expected_serial': o.system_serial})
                self._system_path = chosen[0]
            else:
                raise InvalidOption('BMC %s manages %d systems (%s): give system_id (wsfc_bmc_system_id) or the node\'s '
                                    'serial number (system_serial) to say which one is the node; nothing was sent'
                                    % (o.name, len(members), ', '.join(ids)))
        return self._system_path

    def _read(self):
        return self._request('GET', self._system_uri(), 'read the system')

    def _power_state(self):
        return self._power(self._read())

    @staticmethod
    def _power(system):
        state = system.get('PowerState')
        # PoweringOn counts as on and PoweringOff as off: the transition was already asked for.
        return 'on' if state in ('On', 'PoweringOn') else 'off'

    def _set_power(self, action):
        system = self._read()
        if action == 'cycle' and self._power(system) == 'off':
            action = 'on'
        reset = (system.get('Actions') or {}).get('#ComputerSystem.Reset') or {}
        allowed = reset.get('ResetType@Redfish.AllowableValues')
        if allowed is None and reset.get('@Redfish.ActionInfo'):
            info = self._request('GET', reset['@Redfish.ActionInfo'], 'read the reset action\'s parameters')
            allowed = next((p.get('AllowableValues') for p in info.get('Parameters') or [] if p.get('Name') == 'ResetType'), None)
        kind = next((k for k in RESET[action] if allowed is None or k in allowed), None)
        if kind is None:
            raise RemoteCommandError('BMC %s allows no reset type for %s (wanted one of %s; it allows %s)' % (
                self.options.name, action, ', '.join(RESET[action]), ', '.join(allowed) or 'none'),
                details={'endpoint': self.options.endpoint, 'allowed_reset_types': allowed})
        self._request('POST', reset.get('target') or self._system_uri() + '/Actions/ComputerSystem.Reset', 'reset the system',
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
        current = self._read().get('Boot') or {}
        if device == 'none':
            boot = {'BootSourceOverrideEnabled': 'Disabled'}
        else:
            allowed = current.get('BootSourceOverrideTarget@Redfish.AllowableValues')
            if allowed is not None and TARGETS[device] not in allowed:
                raise RemoteCommandError('BMC %s cannot boot its system from %s (%s): it allows %s' % (
                    self.options.name, device, TARGETS[device], ', '.join(allowed) or 'none'),
                    details={'endpoint': self.options.endpoint, 'allowed_boot_targets': allowed})
            boot = {'BootSourceOverrideTarget': TARGETS[device], 'BootSourceOverrideEnabled': 'Continuous' if persistent else 'Once'}
            # The mode only where the system has it (a property it does not have is refused as unknown).
            if 'BootSourceOverrideMode' in current:
                boot['BootSourceOverrideMode'] = 'UEFI' if uefi else 'Legacy'
        self._patch_system({'Boot': boot}, 'set the boot override')

    def _patch_system(self, body, what):
        """PATCH the system resource naming the version just read (If-Match: its ETag), as BMCs that require it
        want (HTTP 428 without it); one that changed in between (HTTP 412) is read again and patched once more."""
        for attempt in (1, 2):
            headers = {'If-Match': self._etag} if self._etag else None
            try:
                return self._request('PATCH', self._system_uri(), what, body=body, headers=headers)
            except RemoteCommandError as exc:
                if exc.details.get('http_status') != 412 or attempt == 2:
                    raise
                self._read()

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
