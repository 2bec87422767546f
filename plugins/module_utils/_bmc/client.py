# -*- coding: utf-8 -*-
# Copyright: (c) 2026, wsfc.rolling developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one BMC interface (``BmcClient``), its options, and the choice of backend.

Both backends speak the same normalised vocabulary:

- power: ``'on'`` or ``'off'`` (what the chassis reports);
- power actions: ``on``, ``off`` (hard), ``soft_off`` (ACPI / GracefulShutdown), ``cycle`` (hard
  reset, or power on when off);
- boot override: ``{'device': none|network|disk|cd|bios, 'persistent': bool, 'uefi': bool|None}``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.wsfc.rolling.plugins.module_utils._errors import (
    AuthenticationFailure, ConnectionFailure, InvalidOption, WrongNode)

PROTOCOLS = ('ipmi', 'redfish')
DEFAULT_PORTS = {'ipmi': 623, 'redfish': 443}
BOOT_DEVICES = ('network', 'disk', 'cd', 'bios', 'none')
POWER_ACTIONS = ('on', 'off', 'soft_off', 'cycle')


class Busy(Exception):
    """A BMC answered that it is busy (IPMI completion code 0xC0, HTTP 503/429): try again later."""


class BmcOptions:
    """Validated connection options (the ``wsfc.rolling.bmc`` doc fragment)."""

    def __init__(self, name, user, password, protocol='ipmi', port=None, validate_certs=True, ca_path=None,
                 fingerprint=None, timeout=20, retries=3, system_serial=None, allow_insecure=False, system_id=None):
        if not name:
            raise InvalidOption('name (the BMC address) is required')
        if protocol not in PROTOCOLS:
            raise InvalidOption("protocol must be one of %s, got %r" % (', '.join(PROTOCOLS), protocol))
        if not user or password is None:
            raise InvalidOption('user and password of the BMC are required')
        port = DEFAULT_PORTS[protocol] if port is None else port
        if not 0 < int(port) < 65536:
            raise InvalidOption('port must be between 1 and 65535, got %r' % (port,))
        if timeout is None or timeout <= 0:
            raise InvalidOption('timeout must be greater than 0, got %r' % (timeout,))
        if retries is None or retries < 0:
            raise InvalidOption('retries must be 0 or more, got %r' % (retries,))
        if fingerprint is not None:
            fingerprint = fingerprint.replace(':', '').strip().lower()
            if len(fingerprint) != 64 or any(c not in '0123456789abcdef' for c in fingerprint):
                raise InvalidOption('fingerprint must be the SHA-256 fingerprint of the BMC certificate (64 hex digits)')
        self.name, self.user, self.password, self.protocol = name, user, password, protocol
        self.port, self.validate_certs, self.ca_path = int(port), bool(validate_certs), ca_path
        self.fingerprint, self.timeout, self.retries = fingerprint, timeout, int(retries)
        self.system_serial = (system_serial or '').strip() or None
        self.system_id = (system_id or '').strip() or None
        self.allow_insecure = bool(allow_insecure)
        if self.insecure_choices() and not self.allow_insecure:
            raise InvalidOption('Refusing an insecure connection to BMC %s: %s. Give ca_path or fingerprint, or accept '
                                'the risk explicitly with allow_insecure=true' % (name, '; '.join(self.insecure_choices())))

    def insecure_choices(self):
        """The options that let anyone on the path pose as the BMC, in words."""
        if self.protocol == 'redfish' and not self.validate_certs and not self.fingerprint:
            return ['validate_certs false accepts any certificate, so anyone on the path can pose as the BMC '
                    'and receive its password']
        return []

    @classmethod
    def from_params(cls, params):
        return cls(params.get('name'), params.get('user'), params.get('password'), params.get('protocol') or 'ipmi',
                   params.get('port'), params.get('validate_certs', True), params.get('ca_path'),
                   params.get('fingerprint'), params.get('timeout') or 20, params.get('retries', 3),
                   params.get('system_serial'), params.get('allow_insecure', False), params.get('system_id'))

    @property
    def endpoint(self):
        return '%s://%s:%d' % (self.protocol, self.name, self.port)


class BmcClient:
    """What the modules need from a BMC. Backends implement the underscored methods; the public
    ones add the retries with backoff for busy or briefly unreachable BMCs."""

    #: seconds of the first pause between attempts; doubled each time
    backoff = 1.0

    def __init__(self, options, sleep=None):
        self.options = options
        self.sleep = sleep or time.sleep
        self.requests = 0

    def power_state(self):
        return self._retry('read the power state', self._power_state)

    def set_power(self, action):
        if action not in POWER_ACTIONS:
            raise InvalidOption('unknown power action %r' % (action,))
        return self._retry('send power action %s' % action, lambda: self._set_power(action), repeat_safe=False)

    def boot(self):
        return self._retry('read the boot override', self._boot)

    def set_boot(self, device, persistent=False, uefi=True):
        if device not in BOOT_DEVICES:
            raise InvalidOption('device must be one of %s, got %r' % (', '.join(BOOT_DEVICES), device))
        return self._retry('set the boot device', lambda: self._set_boot(device, persistent, uefi))

    def system(self):
        return self._retry('read the system information', self._system)

    def close(self):
        """Release the connection (a logout where the protocol has one)."""

    # -- retries -------------------------------------------------------------------------------

    def _retry(self, what, call, repeat_safe=True):
        """Retry on Busy, and on ConnectionFailure for requests that are safe to send again.
        Authentication failures are never retried (a BMC may lock the account)."""
        pause = self.backoff
        for attempt in range(self.options.retries + 1):
            try:
                self.requests += 1
                return call()
            except Busy as exc:
                last = ConnectionFailure('BMC %s stayed busy: could not %s: %s' % (self.options.endpoint, what, exc))
            except ConnectionFailure as exc:
                if not repeat_safe or exc.details.get('permanent'):
                    raise
                last = exc
            except AuthenticationFailure:
                raise
            if attempt < self.options.retries:
                self.sleep(pause)
                pause *= 2
        last.details.setdefault('attempts', self.options.retries + 1)
        raise last

    # -- implemented by the backends --------------------------------------------------------------

    def _power_state(self):
        raise NotImplementedError

    def _set_power(self, action):
        raise NotImplementedError

    def _boot(self):
        raise NotImplementedError

    def _set_boot(self, device, persistent, uefi):
        raise NotImplementedError

    def _system(self):
        raise NotImplementedError


def connect(options):
    """The backend for ``options.protocol``.

    Raises:
        MissingDependency: the backend's library is not installed.
    """
    if options.protocol == 'ipmi':
        from ansible_collections.wsfc.rolling.plugins.module_utils._bmc.ipmi import IpmiClient
        client = IpmiClient(options)
    else:
        from ansible_collections.wsfc.rolling.plugins.module_utils._bmc.redfish import RedfishClient
        client = RedfishClient(options)
    try:
        client.identity_confirmed = confirm_system(client, options.system_serial)
    except Exception:
        client.close()
        raise
    return client


def confirm_system(client, serial):
    """Check that the BMC manages the system with serial number ``serial`` before anything is sent.

    Returns:
        True when the BMC reports that serial number, False when it reports none (IPMI's Get Device
        ID carries no serial; many BMCs leave the FRU empty), None when no serial was given.
    Raises:
        WrongNode: the BMC manages a system with another serial number.
    """
    if not serial:
        return None
    reported = str(client.system().get('serial_number') or '').strip()
    if not reported:
        return False
    if reported.lower() != serial.lower():
        raise WrongNode('The BMC at %s manages the system with serial number %s, not %s (the node it was given for): '
                        'nothing was sent to it. Check the BMC address in the inventory (wsfc_bmc_host)'
                        % (client.options.name, reported, serial),
                        details={'endpoint': client.options.name, 'expected_serial': serial, 'reported_serial': reported})
    return True
