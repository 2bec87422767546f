# -*- coding: utf-8 -*-
# Copyright: (c) 2026, wsfc.rolling developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one way to run PowerShell on a node: pywinrm underneath, the RPC shim on top."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import binascii
import os
import socket
import time
import traceback

from ansible_collections.wsfc.rolling.plugins.module_utils._errors import (
    AuthenticationFailure,
    ConnectionFailure,
    InvalidOption,
    MissingDependency,
    NotFound,
    RemoteCommandError,
    TimeoutFailure,
    WrongNode,
)
from ansible_collections.wsfc.rolling.plugins.module_utils._winrm import _shim

try:
    import requests
    import winrm
    import winrm.exceptions
    from winrm.protocol import Protocol
    HAS_WINRM = True
    WINRM_IMPORT_ERROR = None
except ImportError:  # pragma: no cover - exercised through MissingDependency
    HAS_WINRM = False
    WINRM_IMPORT_ERROR = traceback.format_exc()

TRANSPORTS = ('basic', 'ntlm', 'kerberos', 'credssp', 'certificate')
PASSWORD_TRANSPORTS = ('basic', 'ntlm', 'credssp')
# WSManFault code for a ShellId the server does not know (windows-behaviour.md §15), and for a CommandId it
# does not know in that shell (the process ended).
UNKNOWN_SHELL_FAULT = 2150858843
UNKNOWN_COMMAND_FAULT = 2150858882
# Faults the WinRM service gives for a moment and not on the next try: 1018, a registry key marked for
# deletion (a user profile unloading; windows-behaviour.md §15). Given to a shell Create or a Command, they
# mean nothing ran, so asking again is safe for any operation.
TRANSIENT_FAULTS = (1018,)
# Transports able to hand a credential on to the node (the double hop, windows-behaviour.md §2).
DELEGATING_TRANSPORTS = ('credssp',)
DELEGATION_METHODS = ('auto', 'scheduled_task')


class WinRMOptions(object):
    """Validated connection options of one WinRM endpoint."""

    FIELDS = ('host', 'port', 'scheme', 'path', 'user', 'password', 'transport', 'validate_certs',
              'ca_path', 'message_encryption', 'kerberos_delegation', 'cert_pem', 'cert_key_pem',
              'connection_timeout', 'read_timeout', 'operation_timeout', 'delegation', 'allow_insecure')

    def __init__(self, host, user=None, password=None, port=None, scheme='https', path='/wsman',
                 transport='ntlm', validate_certs=True, ca_path=None, message_encryption='auto',
                 kerberos_delegation=False, cert_pem=None, cert_key_pem=None, connection_timeout=10,
                 read_timeout=30, operation_timeout=20, delegation='auto', allow_insecure=False):
        self.host = host
        self.user = user
        self.password = password
        self.scheme = scheme
        self.port = port if port is not None else (5986 if scheme == 'https' else 5985)
        self.path = path
        self.transport = transport
        self.validate_certs = validate_certs
        self.ca_path = ca_path
        self.message_encryption = message_encryption
        self.kerberos_delegation = kerberos_delegation
        self.cert_pem = cert_pem
        self.cert_key_pem = cert_key_pem
        self.connection_timeout = connection_timeout
        self.read_timeout = read_timeout
        self.operation_timeout = operation_timeout
        self.delegation = delegation
        self.allow_insecure = bool(allow_insecure)
        self.validate()

    @classmethod
    def from_params(cls, params, host=None):
        """Build from module params named ``winrm_<field>``; ``host`` overrides ``winrm_host``."""
        kwargs = dict((f, params.get('winrm_' + f)) for f in cls.FIELDS)
        kwargs = dict((k, v) for k, v in kwargs.items() if v is not None)
        if host is not None:
            kwargs['host'] = host
        if 'host' not in kwargs:
            raise InvalidOption('winrm_host is required: the cluster name or a node to connect to')
        return cls(**kwargs)

    def replace(self, **changes):
        """A copy with some fields changed (e.g. another host of the same cluster)."""
        kwargs = dict((f, getattr(self, f)) for f in self.FIELDS)
        kwargs.update(changes)
        return WinRMOptions(**kwargs)

    @property
    def endpoint(self):
        host = '[%s]' % self.host if ':' in self.host else self.host
        return '%s://%s:%d%s' % (self.scheme, host, self.port, self.path)

    def validate(self):
        """Raise InvalidOption naming the first bad option; nothing is sent before this passes."""
        if not self.host or not str(self.host).strip():
            raise InvalidOption('winrm_host must not be empty')
        if self.transport not in TRANSPORTS:
            raise InvalidOption('winrm_transport %r is not one of %s' % (self.transport, ', '.join(TRANSPORTS)))
        if self.scheme not in ('https', 'http'):
            raise InvalidOption("winrm_scheme must be 'https' or 'http', got %r" % (self.scheme,))
        if not isinstance(self.port, int) or isinstance(self.port, bool) or not 1 <= self.port <= 65535:
            raise InvalidOption('winrm_port must be between 1 and 65535, got %r' % (self.port,))
        if not str(self.path).startswith('/'):
            raise InvalidOption("winrm_path must start with '/', got %r" % (self.path,))
        if self.message_encryption not in ('auto', 'always', 'never'):
            raise InvalidOption("winrm_message_encryption must be 'auto', 'always' or 'never'")
        if self.transport in PASSWORD_TRANSPORTS:
            if not self.user:
                raise InvalidOption('winrm_user is required with winrm_transport %s (the playbooks take it from wsfc_winrm_user or '
                                    'the environment variable WSFC_WINRM_USER)' % self.transport)
            if self.password is None or self.password == '':
                raise InvalidOption('winrm_password is required with winrm_transport %s (the playbooks take it from wsfc_winrm_password '
                                    'or the environment variable WSFC_WINRM_PASSWORD)' % self.transport)
        if self.transport == 'basic' and self.scheme == 'http' and self.message_encryption == 'always':
            raise InvalidOption('basic authentication cannot encrypt messages; use https or ntlm/kerberos/credssp')
        if self.transport == 'certificate':
            if self.scheme != 'https':
                raise InvalidOption('certificate authentication needs winrm_scheme https')
            for name in ('cert_pem', 'cert_key_pem'):
                value = getattr(self, name)
                if not value:
                    raise InvalidOption('winrm_%s is required with winrm_transport certificate' % name)
                if not os.path.isfile(value):
                    raise InvalidOption('winrm_%s file not found: %s' % (name, value))
        if self.delegation not in DELEGATION_METHODS:
            raise InvalidOption('winrm_delegation must be one of %s, got %r' % (', '.join(DELEGATION_METHODS), self.delegation))
        if self.delegation == 'scheduled_task' and self.transport not in PASSWORD_TRANSPORTS:
            raise InvalidOption('winrm_delegation scheduled_task logs the task on with winrm_user and winrm_password; '
                                'it needs winrm_transport basic, ntlm or credssp')
        if self.kerberos_delegation and self.transport != 'kerberos':
            raise InvalidOption('winrm_kerberos_delegation only applies to winrm_transport kerberos')
        if self.ca_path is not None and not os.path.exists(self.ca_path):
            raise InvalidOption('winrm_ca_path not found: %s' % self.ca_path)
        for name in ('connection_timeout', 'read_timeout', 'operation_timeout'):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
                raise InvalidOption('winrm_%s must be a number of seconds greater than 0, got %r' % (name, value))
        if self.read_timeout <= self.operation_timeout:
            raise InvalidOption('winrm_read_timeout (%s) must be greater than winrm_operation_timeout (%s)'
                                % (self.read_timeout, self.operation_timeout))
        if self.delegation == 'scheduled_task' and not self.encrypted:
            raise InvalidOption('winrm_delegation scheduled_task sends the password of winrm_user to the node inside '
                                'the request, and winrm_scheme http with winrm_transport %s (message encryption %s) '
                                'would send it in clear text: use https, or ntlm/kerberos/credssp with message '
                                'encryption' % (self.transport, self.message_encryption))
        insecure = self.insecure_choices()
        if insecure and not self.allow_insecure:
            raise InvalidOption('Refusing an insecure WinRM connection to %s: %s. Fix it, or accept the risk '
                                'explicitly with winrm_allow_insecure=true' % (self.host, '; '.join(insecure)))

    @property
    def encrypted(self):
        """Whether what goes over the wire is encrypted: TLS, or message encryption of NTLM/Kerberos/CredSSP."""
        if self.scheme == 'https':
            return True
        return self.transport in ('ntlm', 'kerberos', 'credssp') and self.message_encryption != 'never'

    def insecure_choices(self):
        """The options that make this connection readable or spoofable by the network, in words."""
        out = []
        if not self.encrypted:
            out.append('winrm_scheme http with winrm_transport %s%s sends %s unencrypted' % (
                self.transport, ' and winrm_message_encryption never' if self.message_encryption == 'never' else '',
                'the password and every command' if self.transport == 'basic' else 'every command and result'))
        if self.scheme == 'https' and not self.validate_certs:
            out.append('winrm_validate_certs false accepts any certificate, so anyone on the path can pose as the node')
        return out

    @property
    def can_delegate(self):
        """True when remote cmdlets that touch other nodes may run (the double hop)."""
        return self.transport in DELEGATING_TRANSPORTS or (self.transport == 'kerberos' and self.kerberos_delegation)


class CallResult(object):
    """One operation's outcome inside a round trip."""

    def __init__(self, op, ok, value=None, error=None, warnings=None):
        self.op = op
        self.ok = ok
        self.value = value
        self.error = error or {}
        self.warnings = list(warnings or [])

    def __repr__(self):
        return 'CallResult(op=%r, ok=%r)' % (self.op, self.ok)


# Warnings from the nodes (an operation's own, and what PowerShell wrote to the host as CLIXML on
# stderr, as FailoverClusters cmdlets do in remote sessions): never failures, collected for the
# module result. A process runs one task at a time; the module glue clears the list at each start.
_REMOTE_WARNINGS = []


def clear_remote_warnings():
    del _REMOTE_WARNINGS[:]


def note_remote_warning(text):
    if text and text not in _REMOTE_WARNINGS:
        _REMOTE_WARNINGS.append(text)


def remote_warnings():
    """The node warnings of this task so far, each once, in the order they came."""
    return list(_REMOTE_WARNINGS)


def error_for_record(action, record):
    """Map one PowerShell error record to the collection's error class.

    Args:
        action: what was being done, e.g. "Failed to read cluster nodes from 'node1'".
        record: the shim's error dict (category, fqid, message, target, exception, native_code).
    """
    message = '%s: %s' % (action, record.get('message') or record.get('fqid') or 'unknown error')
    fqid = str(record.get('fqid') or '')
    if record.get('native_code') == 1312 and 'Register-ScheduledTask' in fqid or '0x80070520' in fqid:
        # ERROR_NO_SUCH_LOGON_SESSION when registering a task with a stored password.
        message += (' (Windows refused to store the password of the scheduled task that runs this with your credential: '
                    'the security policy "Network access: Do not allow storage of passwords and credentials" is '
                    'enabled on the node. Use winrm_transport=credssp, or kerberos with winrm_kerberos_delegation=true, '
                    'instead of winrm_delegation=scheduled_task, or have that policy disabled on the cluster nodes)')
    if record.get('category') == 'ObjectNotFound':
        return NotFound(message, details={'error_records': [record]})
    return RemoteCommandError(message, records=[record], details={'error_records': [record]})


class PowerShellRunner(object):
    """Runs shim operations on one endpoint. One WinRM shell is kept for the runner's lifetime, and in it
    one warm PowerShell process: started with the first round trip, fed one request per round trip over
    its stdin, ended with the shell (``close``). A node pays powershell.exe's start and the loading of
    FailoverClusters once per runner, not once per round trip (status polls included).

    ``round_trips`` counts shim executions (one per ``invoke``); ``starts`` the PowerShell processes
    started; ``http_requests`` counts WS-Man messages, shell create/delete included.
    """

    def __init__(self, options, protocol_factory=None, expect_node=None, expect_node_id=None):
        """
        Args:
            expect_node: the cluster node (computer) this endpoint must be. Every request then
                carries it; the shim runs nothing on a machine of another name, and the runner
                raises WrongNode. A DNS-style name is compared by its first label.
            expect_node_id: with ``expect_node``, the node's cluster node id, checked where the
                cluster service runs on the endpoint.
        """
        if not HAS_WINRM and protocol_factory is None:
            raise MissingDependency('pywinrm is required to reach Windows nodes: pip install pywinrm',
                                    details={'exception': WINRM_IMPORT_ERROR})
        self.options = options
        self.expect_computer = computer_name(expect_node) if expect_node else None
        self.expect_node_id = str(expect_node_id) if expect_node and expect_node_id else None
        self._protocol_factory = protocol_factory or self._default_protocol
        self._protocol = None
        self._shell_id = None
        self._command_id = None     # the warm PowerShell process in the shell
        self.round_trips = 0
        self.polls = 0
        self.starts = 0
        self.http_requests = 0

    def _default_protocol(self, options):
        kwargs = dict(
            endpoint=options.endpoint,
            transport='certificate' if options.transport == 'certificate' else options.transport,
            username=options.user,
            password=options.password,
            server_cert_validation='validate' if options.validate_certs else 'ignore',
            ca_trust_path=options.ca_path,
            message_encryption=options.message_encryption,
            kerberos_delegation=options.kerberos_delegation,
            read_timeout_sec=int(options.read_timeout),
            operation_timeout_sec=int(options.operation_timeout),
            proxy=None,
        )
        if options.transport == 'certificate':
            kwargs.update(cert_pem=options.cert_pem, cert_key_pem=options.cert_key_pem)
        protocol = Protocol(**kwargs)
        # requests takes (connect, read); pywinrm passes its read timeout straight through to
        # requests, so a tuple gives a short connect timeout without a long read timeout.
        protocol.transport.read_timeout_sec = (options.connection_timeout, options.read_timeout)
        return protocol

    # -- transport-level calls, each wrapped once into the collection's errors ------------------

    def _wsman(self, what, func, *args):
        self.http_requests += 1
        session = getattr(getattr(self._protocol, 'transport', None), 'session', None)
        if session is not None:
            # The protocol is built with proxy=None (pywinrm's "no proxy"), so requests' look at the proxy
            # variables of the environment before every request always ends in "no proxy"; it walks the whole
            # environment each time (a sixth of a request's CPU, profiled). Off once the session exists.
            session.trust_env = False
        try:
            return func(*args)
        except Exception as exc:  # pylint: disable=broad-except
            raise self._translate(what, exc)

    def _translate(self, what, exc):
        endpoint = self.options.endpoint
        if HAS_WINRM:
            if isinstance(exc, winrm.exceptions.InvalidCredentialsError):
                return AuthenticationFailure('authentication failed for %s at %s (%s transport): %s'
                                             % (self.options.user, endpoint, self.options.transport, exc))
            if isinstance(exc, winrm.exceptions.WSManFaultError):
                return RemoteCommandError('WS-Management fault from %s while %s: %s (code %s)'
                                          % (endpoint, what, exc.reason, exc.wsman_fault_code),
                                          details={'wsman_fault_code': exc.wsman_fault_code})
            # connect_failed: no connection was made, so nothing this request carried reached the server.
            if isinstance(exc, requests.exceptions.SSLError) and any(t in str(exc) for t in ('EOF occurred', 'reset')):
                # A TLS connection the server dropped (a node restarting, a connection kept alive across its
                # restart), not a certificate problem: whether the request got there is unknown.
                return ConnectionFailure('cannot connect to %s: the connection was dropped (%s)' % (endpoint, _root_cause(exc)),
                                         details={'transient': True})
            if isinstance(exc, requests.exceptions.SSLError):
                cause = _root_cause(exc)
                hint = ("the server's certificate does not name %s (a node's WinRM certificate names the node, not the "
                        "cluster name: add the cluster name to the nodes' certificates, or the collection goes to "
                        "the nodes in winrm_fallback_hosts)" % self.options.host if 'mismatch' in cause
                        else 'check winrm_ca_path or the server certificate')
                return ConnectionFailure('TLS failure talking to %s: %s; %s' % (endpoint, cause, hint),
                                         details={'connect_failed': True, 'certificate': True})
            if isinstance(exc, (requests.exceptions.ConnectTimeout,)):
                return TimeoutFailure('connection to %s timed out after %s s' % (endpoint, self.options.connection_timeout),
                                      details={'connect_failed': True})
            if isinstance(exc, requests.exceptions.ReadTimeout):
                return TimeoutFailure('%s did not answer within %s s while %s' % (endpoint, self.options.read_timeout, what),
                                      details={'transient': True})
            if isinstance(exc, requests.exceptions.ConnectionError):
                cause = _root_cause(exc)
                # A connection that was open and then dropped or reset is transient; a refused one is not.
                transient = any(t in cause for t in ('closed connection', 'reset', 'aborted', 'Broken pipe'))
                refused = 'refused' in cause or 'NewConnectionError' in cause
                return ConnectionFailure('cannot connect to %s: %s' % (endpoint, cause),
                                         details={'transient': transient, 'connect_failed': refused})
            if isinstance(exc, winrm.exceptions.WinRMTransportError):
                return ConnectionFailure('HTTP error from %s while %s: %s' % (endpoint, what, exc))
            if isinstance(exc, winrm.exceptions.WinRMError) and 'not installed' in str(exc):
                extra = {'kerberos': 'pywinrm[kerberos]', 'credssp': 'pywinrm[credssp]'}.get(self.options.transport, 'pywinrm')
                return MissingDependency('winrm_transport %s needs a library that is not installed on the controller '
                                         '(%s): pip install %s' % (self.options.transport, exc, extra))
            if isinstance(exc, winrm.exceptions.WinRMError):
                return ConnectionFailure('WinRM error with %s while %s: %s' % (endpoint, what, exc))
        if isinstance(exc, socket.timeout):
            return TimeoutFailure('%s timed out while %s' % (endpoint, what))
        if isinstance(exc, (OSError, IOError)):
            return ConnectionFailure('cannot connect to %s: %s' % (endpoint, exc))
        return ConnectionFailure('unexpected failure with %s while %s: %s: %s'
                                 % (endpoint, what, type(exc).__name__, exc))

    def _ensure_shell(self):
        if self._shell_id is not None:
            return
        if self._protocol is None:
            try:
                self._protocol = self._protocol_factory(self.options)
            except Exception as exc:  # pylint: disable=broad-except
                raise self._translate('setting up the connection', exc)
        self._shell_id = self._again_on_transient_fault('opening a shell', self._protocol.open_shell)

    def _again_on_transient_fault(self, what, func, *args):
        """A request that did not start anything, asked again after a transient WSMan fault."""
        pauses = list(self.REPEAT_PAUSES)
        while True:
            try:
                return self._wsman(what, func, *args)
            except RemoteCommandError as exc:
                if not pauses or exc.details.get('wsman_fault_code') not in TRANSIENT_FAULTS:
                    raise
                self._sleep(pauses.pop(0))

    def close(self):
        """Delete the shell; errors while closing are not worth failing a finished task for."""
        # The warm PowerShell ends with a Signal (terminate), which MS-WSMV asks of a client once it is done with a
        # command, then the shell goes.
        self._end_command()
        if self._shell_id is None:
            return
        shell_id, self._shell_id = self._shell_id, None
        try:
            self._wsman('closing the shell', self._protocol.close_shell, shell_id)
        except Exception:  # pylint: disable=broad-except
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    # -- the RPC ------------------------------------------------------------------------------

    # Pauses before sending a repeatable request again after a dropped connection.
    REPEAT_PAUSES = (0.5, 1.0, 2.0)

    def invoke(self, calls, stop_on_error=False, poll=False):
        """Run several operations in one round trip (see ``_invoke_once``).

        When every operation is safe to repeat (reads, idempotent starts), a connection dropped,
        reset or timed out mid-call is retried a few times before the error is raised; a refused
        connection or a TLS failure is raised at once.
        """
        repeatable = all(op in _shim.SAFE_TO_REPEAT for op, _params in calls)
        pauses = list(self.REPEAT_PAUSES) if repeatable else []
        while True:
            try:
                return self._invoke_once(calls, stop_on_error, poll)
            except (ConnectionFailure, TimeoutFailure) as exc:
                if not pauses or not exc.details.get('transient'):
                    raise
                self._sleep(pauses.pop(0))

    _sleep = staticmethod(time.sleep)

    def _invoke_once(self, calls, stop_on_error=False, poll=False):
        """Run several operations in one round trip.

        Args:
            calls: list of ``(op, params)``.
            stop_on_error: do not run the calls after the first failure.
            poll: this round trip is a status poll of a wait (counted in ``polls`` too).

        Returns:
            list of CallResult, in call order (shorter than ``calls`` after a stop).
        """
        nonce = binascii.hexlify(os.urandom(8)).decode('ascii')
        request = _shim.encode_request(calls, stop_on_error, delegate=self._delegate(calls), nonce=nonce,
                                       expect_computer=self.expect_computer, expect_node_id=self.expect_node_id)
        try:
            what = ', '.join(op for op, _p in calls)
            command_id = self._send_request(request, what)
            self.round_trips += 1
            if poll:
                self.polls += 1
            stdout, stderr, rc = self._receive(command_id, nonce, what)
        except (ConnectionFailure, TimeoutFailure):
            # The shell may be gone with the connection; the next call opens a new one.
            self._shell_id = self._command_id = None
            raise
        except RemoteCommandError:
            self._end_command()
            raise
        doc = _shim.parse_output(stdout, stderr, rc, self.options.endpoint, nonce)
        self._check_identity(doc)
        results = [CallResult(r.get('op'), bool(r.get('ok')), r.get('value'), r.get('error'), r.get('warnings'))
                   for r in doc.get('results', [])]
        for text in _shim.host_warnings(stderr) + [w for r in results for w in r.warnings]:
            note_remote_warning('%s: %s' % (self.options.host, text))
        return results

    def _send_request(self, request, what):
        """Hand the request to the warm PowerShell process, starting one (with the shim) when there is none.

        A warm process the server no longer knows (the node restarted, the shell timed out or was deleted, the
        process ended) received nothing: a new one is started and given the request. Returns the command id."""
        for attempt in (1, 2):
            fresh = self._command_id is None
            try:
                if fresh:
                    command, args = _shim.powershell_command()
                    self._command_id = self._start_command(command, args)
                    self.starts += 1
                try:
                    self._wsman('sending the request', self._protocol.send_command_input, self._shell_id,
                                self._command_id, _shim.stdin_payload(request, with_shim=fresh), False)
                    return self._command_id
                except RemoteCommandError as exc:
                    code = exc.details.get('wsman_fault_code')
                    self._command_id = None
                    if code not in (UNKNOWN_SHELL_FAULT, UNKNOWN_COMMAND_FAULT):
                        raise
                    if code == UNKNOWN_SHELL_FAULT:
                        self._shell_id = None
                    if attempt == 2:
                        raise self._forgotten(what, exc)
            except (ConnectionFailure, TimeoutFailure) as exc:
                if exc.details.get('connect_failed'):
                    # Nothing reached the server (no connection, or a certificate that does not name it):
                    # the caller may send the same request elsewhere, mutations included.
                    exc.details['not_sent'] = True
                raise

    def _forgotten(self, what, exc):
        # The shell vanished after the command started: the address now reaches another machine (the
        # cluster name moved with the core cluster group) or WinRM restarted. Whether the command ran is
        # unknown, as with a dropped connection: reads are sent again in a new shell, mutations are re-read
        # by their callers.
        self._shell_id = self._command_id = None
        return ConnectionFailure('%s forgot the shell while %s was running (the address moved to another node, or '
                                 'WinRM restarted): %s' % (self.options.endpoint, what, exc), details={'transient': True})

    def _end_command(self):
        """Stop the warm process after a request that went wrong, so that nothing of it is read again."""
        command_id, self._command_id = self._command_id, None
        if command_id is not None and self._shell_id is not None:
            try:
                self._wsman('ending the command', self._protocol.cleanup_command, self._shell_id, command_id)
            except Exception:  # pylint: disable=broad-except
                pass

    def _check_identity(self, doc):
        """Raise WrongNode when the machine that answered is not the node this runner is for."""
        if not self.expect_computer:
            return
        actual = str(doc.get('computer') or '')
        found = doc.get('identity') or {}
        if found.get('actual_node_id'):
            raise WrongNode(
                '%s answered as %s with cluster node id %s, not %s: it is a node of that name in another cluster, '
                'not the node %s of this one. Nothing was run there; check the address of %s in the inventory' % (
                    self.options.host, actual, found['actual_node_id'], found.get('expected_node_id'),
                    self.expect_computer, self.expect_computer),
                details={'endpoint': self.options.host, 'expected_node': self.expect_computer, 'answered_as': actual,
                         'expected_node_id': found.get('expected_node_id'), 'answered_node_id': found['actual_node_id']})
        if found or actual.lower() != self.expect_computer.lower():
            raise WrongNode(
                '%s answered as %s, not as the node %s it was given for: nothing was run there. Check the address '
                'of %s in the inventory (wsfc_winrm_host) or in DNS' % (
                    self.options.host, actual or 'an unknown machine', self.expect_computer, self.expect_computer),
                details={'endpoint': self.options.host, 'expected_node': self.expect_computer, 'answered_as': actual})

    def _delegate(self, calls):
        """The credential the shim hands to a scheduled task for cmdlets that touch other nodes.

        Raises:
            InvalidOption: such a cmdlet is asked for and nothing can delegate (before sending).
        """
        needing = [op for op, _params in calls if op in _shim.NEEDS_DELEGATION]
        if not needing or self.options.can_delegate:
            return None
        if self.options.delegation == 'scheduled_task':
            return {'user': self.options.user, 'password': self.options.password}
        raise InvalidOption(
            '%s must reach other cluster nodes from %s, which needs a delegated credential over WinRM (the double '
            'hop: Add-, Remove-ClusterNode and Move-ClusterVirtualMachineRole refuse remote use without it). Use '
            'winrm_transport=credssp, or kerberos with winrm_kerberos_delegation=true, or '
            'winrm_delegation=scheduled_task (the cmdlet runs in a scheduled task logged on as winrm_user).'
            % (', '.join(_shim.NEEDS_DELEGATION[op] for op in needing), self.options.host))

    def _start_command(self, command, args):
        """Start the command in our shell; a shell the server no longer knows is re-created once.

        The shell can vanish under us: the cluster name moved to another node, WinRM restarted, the
        idle timeout passed. The command did not start then, so starting it in a new shell is safe.
        """
        for attempt in (1, 2):
            self._ensure_shell()
            try:
                return self._again_on_transient_fault('starting PowerShell', self._protocol.run_command, self._shell_id,
                                                      command, args)
            except RemoteCommandError as exc:
                if attempt == 2 or exc.details.get('wsman_fault_code') != UNKNOWN_SHELL_FAULT:
                    raise
                self._shell_id = None

    def _receive(self, command_id, nonce, what):
        """Gather the output, Receive after Receive, until the answer to ``nonce`` is complete or the process ended.

        The command and its output live in the shell on the server, not in the connection: when a Receive's
        connection is reset or times out, the output is asked for again over a new one (a few times)."""
        out, err = [], []
        pauses = list(self.REPEAT_PAUSES)
        while True:
            # Operation timeouts on Receive are the server saying "still running": ask again.
            try:
                self.http_requests += 1
                stdout, stderr, rc, done = self._protocol.get_command_output_raw(self._shell_id, command_id)
            except Exception as exc:  # pylint: disable=broad-except
                if HAS_WINRM and isinstance(exc, winrm.exceptions.WinRMOperationTimeoutError):
                    continue
                failure = self._translate('reading the command output', exc)
                if isinstance(failure, RemoteCommandError) and failure.details.get('wsman_fault_code') == UNKNOWN_SHELL_FAULT:
                    raise self._forgotten(what, failure)
                if pauses and isinstance(failure, (ConnectionFailure, TimeoutFailure)) and failure.details.get('transient'):
                    self._sleep(pauses.pop(0))
                    continue
                raise failure
            out.append(stdout)
            err.append(stderr)
            if done:
                self._command_id = None     # the process ended (its answer, if any, is in what came)
                return b''.join(out), b''.join(err), rc
            if stdout and _shim.find_result(b''.join(out), self.options.endpoint, nonce) is not None:
                return b''.join(out), b''.join(err), None

    def call(self, op, params=None, action=None, poll=False):
        """Run one operation and return its value, raising the mapped error when it failed."""
        result = self.invoke([(op, params or {})], poll=poll)[0]
        if not result.ok:
            raise error_for_record(action or 'Operation %s failed on %s' % (op, self.options.host), result.error)
        return result.value


def computer_name(node):
    """The computer (NetBIOS) name a cluster node answers as: a DNS name's first label."""
    return str(node).split('.', 1)[0]


def _root_cause(exc):
    """The innermost reason of a requests/urllib3 exception chain, as short text."""
    seen = exc
    while True:
        nxt = getattr(seen, 'reason', None) or seen.__cause__ or seen.__context__
        if nxt is None or nxt is seen or isinstance(nxt, str):
            break
        seen = nxt
    text = str(seen)
    if 'Connection refused' in text or 'Errno 111' in text:
        return ('connection refused (nothing listens there: the machine is stopping or starting, WinRM is not '
                'running, or the address or port is wrong)')
    return text
