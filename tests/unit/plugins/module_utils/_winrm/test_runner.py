from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest
import requests
import winrm.exceptions

from ansible_collections.wsfc.rolling.plugins.module_utils._errors import (
    AuthenticationFailure, ConnectionFailure, InvalidOption, MissingDependency, NotFound, RemoteCommandError,
    TimeoutFailure)
from ansible_collections.wsfc.rolling.plugins.module_utils._winrm import _shim
from ansible_collections.wsfc.rolling.plugins.module_utils._winrm.runner import (
    PowerShellRunner, WinRMOptions, error_for_record)

BASE = dict(host='node1', user='LAB\\admin', password='pw')


class FakeProtocol:
    """Records WS-Man calls; answers Receive with a canned response document."""

    def __init__(self, response=None, fail=None, timeouts=0):
        self.response = response or {'protocol': 1, 'computer': 'N1', 'results': []}
        self.fail = fail or {}
        self.timeouts = timeouts
        self.calls = []
        self.stdin = b''

    def _maybe_fail(self, name):
        self.calls.append(name)
        if name in self.fail:
            raise self.fail[name]

    def open_shell(self):
        self._maybe_fail('open_shell')
        return 'SHELL'

    def run_command(self, shell_id, command, args):
        self._maybe_fail('run_command')
        self.command = (command, args)
        return 'CMD'

    def send_command_input(self, shell_id, command_id, data, end):
        self._maybe_fail('send_command_input')
        self.stdin += data

    def get_command_output_raw(self, shell_id, command_id):
        self._maybe_fail('get_command_output_raw')
        if self.timeouts:
            self.timeouts -= 1
            raise winrm.exceptions.WinRMOperationTimeoutError()
        return (_shim.encode_response(self.response) + '\r\n').encode(), b'', 0, True

    def cleanup_command(self, shell_id, command_id):
        self._maybe_fail('cleanup_command')

    def close_shell(self, shell_id):
        self._maybe_fail('close_shell')


def runner(protocol, **kw):
    opts = dict(BASE)
    opts.update(kw)
    return PowerShellRunner(WinRMOptions(**opts), protocol_factory=lambda o: protocol)


@pytest.mark.parametrize('kwargs, message', [
    (dict(transport='smoke-signals'), "winrm_transport 'smoke-signals' is not one of basic, ntlm"),
    (dict(port=0), 'winrm_port must be between 1 and 65535, got 0'),
    (dict(port=70000), 'winrm_port must be between 1 and 65535, got 70000'),
    (dict(password=None), 'winrm_password is required with winrm_transport ntlm'),
    (dict(user=None, transport='basic'), 'winrm_user is required with winrm_transport basic'),
    (dict(ca_path='/nonexistent/ca.pem'), 'winrm_ca_path not found: /nonexistent/ca.pem'),
    (dict(scheme='ftp'), "winrm_scheme must be 'https' or 'http'"),
    (dict(read_timeout=10, operation_timeout=20), 'winrm_read_timeout (10) must be greater than winrm_operation_timeout'),
    (dict(connection_timeout=0), 'winrm_connection_timeout must be a number of seconds greater than 0'),
    (dict(transport='certificate'), 'winrm_cert_pem is required with winrm_transport certificate'),
    (dict(transport='certificate', cert_pem='/no/cert.pem', cert_key_pem='/no/key.pem'), 'winrm_cert_pem file not found'),
    (dict(kerberos_delegation=True), 'winrm_kerberos_delegation only applies to winrm_transport kerberos'),
    (dict(host='  '), 'winrm_host must not be empty'),
    (dict(path='wsman'), "winrm_path must start with '/'"),
    (dict(scheme='http', transport='basic'), 'Refusing an insecure WinRM connection to node1: winrm_scheme http with '
                                             'winrm_transport basic sends the password and every command unencrypted'),
    (dict(scheme='http', message_encryption='never'), 'winrm_scheme http with winrm_transport ntlm and '
                                                      'winrm_message_encryption never sends every command and result'),
    (dict(validate_certs=False), 'winrm_validate_certs false accepts any certificate'),
    (dict(validate_certs=False), 'accept the risk explicitly with winrm_allow_insecure=true'),
    (dict(scheme='http', transport='basic', delegation='scheduled_task', allow_insecure=True),
     'winrm_delegation scheduled_task sends the password of winrm_user to the node inside the request'),
])
def test_bad_options_are_refused_before_anything_is_sent(kwargs, message):
    opts = dict(BASE)
    opts.update(kwargs)
    with pytest.raises(InvalidOption) as err:
        WinRMOptions(**opts)
    assert message in str(err.value)


def test_defaults_are_https_5986_with_validation():
    o = WinRMOptions(**BASE)
    assert (o.scheme, o.port, o.validate_certs, o.endpoint) == ('https', 5986, True, 'https://node1:5986/wsman')
    assert WinRMOptions(scheme='http', **BASE).port == 5985
    assert WinRMOptions(host='::1', user='u', password='p').endpoint == 'https://[::1]:5986/wsman'


def test_from_params_maps_winrm_prefixed_options_and_host_override():
    params = {'winrm_host': 'clu', 'winrm_user': 'u', 'winrm_password': 'p', 'winrm_port': None,
              'winrm_transport': 'basic', 'other': 1}
    o = WinRMOptions.from_params(params, host='node2')
    assert (o.host, o.user, o.transport, o.port) == ('node2', 'u', 'basic', 5986)
    with pytest.raises(InvalidOption, match='winrm_host is required'):
        WinRMOptions.from_params({'winrm_user': 'u', 'winrm_password': 'p'})


def test_delegation_capability():
    assert not WinRMOptions(**BASE).can_delegate
    assert WinRMOptions(transport='credssp', **BASE).can_delegate
    assert WinRMOptions(transport='kerberos', kerberos_delegation=True, host='n').can_delegate


def sent_request(proto):
    return _shim.decode_request(proto.stdin.decode('ascii').split(_shim.REQUEST_SEPARATOR)[1].strip())


def test_cmdlets_that_need_delegation_get_it_or_fail_before_sending():
    proto = FakeProtocol()
    with pytest.raises(InvalidOption, match='Remove-ClusterNode must reach other cluster nodes.*winrm_delegation=scheduled_task'):
        runner(proto).invoke([('cluster.node.remove', {'name': 'N2'})])
    assert proto.calls == []
    runner(proto, delegation='scheduled_task').invoke([('cluster.node.remove', {'name': 'N2'})])
    assert sent_request(proto)['delegate'] == {'user': 'LAB\\admin', 'password': 'pw'}
    proto = FakeProtocol()
    runner(proto, transport='credssp').invoke([('cluster.node.add', {'name': 'N2'}), ('cluster.get', {})])
    assert 'delegate' not in sent_request(proto)  # CredSSP delegates by itself
    proto = FakeProtocol()
    runner(proto, delegation='scheduled_task').invoke([('cluster.get', {})])
    assert 'delegate' not in sent_request(proto)  # the password travels only when a cmdlet needs it
    with pytest.raises(InvalidOption, match='winrm_delegation must be one of'):
        WinRMOptions(delegation='always', **BASE)


def test_delegated_operations_agree_between_python_shim_and_lab():
    import re
    from lab import ops
    listed = re.search(r"\$WsfcDelegatedOps = @\(([^)]*)\)", _shim.SHIM).group(1)
    assert set(re.findall(r"'([a-z._]+)'", listed)) == set(_shim.NEEDS_DELEGATION) == set(ops.DELEGATED)


def test_invoke_runs_one_round_trip_and_keeps_the_shell():
    proto = FakeProtocol({'protocol': 1, 'computer': 'N1', 'results': [
        {'id': 0, 'op': 'a', 'ok': True, 'value': [1], 'warnings': ['w']},
        {'id': 1, 'op': 'b', 'ok': False, 'error': {'category': 'InvalidOperation', 'fqid': 'X', 'message': 'no'}}]})
    r = runner(proto)
    results = r.invoke([('a', {}), ('b', {'x': 1})])
    assert [(x.op, x.ok, x.value, x.warnings) for x in results] == [('a', True, [1], ['w']), ('b', False, None, [])]
    r.invoke([('a', {})])
    assert proto.calls.count('open_shell') == 1
    assert r.round_trips == 2
    assert proto.stdin.count(_shim.REQUEST_SEPARATOR.encode()) == 2
    r.close()
    assert proto.calls[-1] == 'close_shell'


def test_receive_timeouts_are_retried_as_still_running():
    proto = FakeProtocol(timeouts=3)
    r = runner(proto)
    r.invoke([('a', {})])
    assert proto.calls.count('get_command_output_raw') == 4


def test_call_raises_mapped_errors():
    record = {'category': 'ObjectNotFound', 'fqid': 'ClusterObjectNotFound,X', 'message': 'The cluster node was not found.'}
    proto = FakeProtocol({'protocol': 1, 'results': [{'id': 0, 'op': 'cluster.nodes', 'ok': False, 'error': record}]})
    with pytest.raises(NotFound, match='Reading node: The cluster node was not found.'):
        runner(proto).call('cluster.nodes', {'names': ['x']}, action='Reading node')
    err = error_for_record('Doing', {'category': 'ConnectionError', 'fqid': 'ClusterEndpointNotRegistered,Y', 'message': 'down'})
    assert isinstance(err, RemoteCommandError) and err.fqids == ['ClusterEndpointNotRegistered,Y']


@pytest.mark.parametrize('exc, cls, text', [
    (winrm.exceptions.InvalidCredentialsError('rejected'), AuthenticationFailure,
     'authentication failed for LAB\\admin at https://node1:5986/wsman'),
    (requests.exceptions.ConnectionError('Errno 111 Connection refused'), ConnectionFailure,
     'cannot connect to https://node1:5986/wsman: connection refused'),
    (requests.exceptions.SSLError('CERTIFICATE_VERIFY_FAILED'), ConnectionFailure, 'TLS failure talking to'),
    (requests.exceptions.SSLError('EOF occurred in violation of protocol (_ssl.c:2427)'), ConnectionFailure,
     'the connection was dropped'),
    (requests.exceptions.ConnectTimeout('slow'), TimeoutFailure, 'connection to https://node1:5986/wsman timed out after 10 s'),
    (requests.exceptions.ReadTimeout('slow'), TimeoutFailure, 'did not answer within 30 s'),
    (winrm.exceptions.WSManFaultError(500, 'x', '', 'shell not found', wsman_fault_code=2150858843), RemoteCommandError,
     'WS-Management fault from https://node1:5986/wsman while opening a shell: shell not found (code 2150858843)'),
])
def test_transport_errors_are_wrapped_once_with_the_endpoint(exc, cls, text):
    r = runner(FakeProtocol(fail={'open_shell': exc}))
    with pytest.raises(cls) as err:
        r.invoke([('a', {})])
    assert text in str(err.value)


def test_a_dropped_connection_forgets_the_shell():
    proto = FakeProtocol(fail={'run_command': requests.exceptions.ConnectionError('reset')})
    r = runner(proto)
    with pytest.raises(ConnectionFailure):
        r.invoke([('cluster.node.suspend', {})])
    assert proto.calls.count('run_command') == 1  # a mutation is never sent twice
    del proto.fail['run_command']
    r.invoke([('a', {})])
    assert proto.calls.count('open_shell') == 2


def test_output_lost_with_a_connection_is_asked_for_again_and_nothing_runs_twice(monkeypatch):
    monkeypatch.setattr(PowerShellRunner, '_sleep', staticmethod(lambda s: None))

    class Dropping(FakeProtocol):
        drops = 2

        def get_command_output_raw(self, shell_id, command_id):
            if self.drops:
                self.drops -= 1
                self.calls.append('get_command_output_raw')
                raise requests.exceptions.ConnectionError('Remote end closed connection without response')
            return FakeProtocol.get_command_output_raw(self, shell_id, command_id)
    proto = Dropping()
    r = runner(proto)
    # The command and its output live in the shell: the output is asked for again, the command not re-run.
    r.invoke([('cluster.nodes', {}), ('wu.status', {'id': 'x'})])
    assert proto.calls.count('run_command') == 1 and proto.calls.count('get_command_output_raw') == 3
    proto.calls[:] = []
    proto.drops = 1
    r.invoke([('cluster.nodes', {}), ('cluster.node.resume', {})])
    assert proto.calls.count('run_command') == 1
    # Four drops in a row: the Receive gives up; a read is then run again, a mutation is not.
    proto.calls[:] = []
    proto.drops = 4
    r.invoke([('cluster.nodes', {})])
    assert proto.calls.count('run_command') == 2
    proto.drops = 4
    with pytest.raises(ConnectionFailure, match='Remote end closed connection'):
        r.invoke([('cluster.nodes', {}), ('cluster.node.resume', {})])


def test_missing_transport_library_is_a_missing_dependency():
    exc = winrm.exceptions.WinRMError('requested auth method is kerberos, but pykerberos is not installed')
    r = PowerShellRunner(WinRMOptions(host='n', transport='kerberos'), protocol_factory=lambda o: FakeProtocol(fail={'open_shell': exc}))
    with pytest.raises(MissingDependency, match=r'winrm_transport kerberos needs .* pip install pywinrm\[kerberos\]'):
        r.invoke([('a', {})])


def test_a_shell_the_server_forgot_is_recreated_once():
    fault = winrm.exceptions.WSManFaultError(500, 'x', '', 'shell not found', wsman_fault_code=2150858843)

    class Forgetful(FakeProtocol):
        failures = 1

        def run_command(self, shell_id, command, args):
            if self.failures:
                self.failures -= 1
                self.calls.append('run_command')
                raise fault
            return FakeProtocol.run_command(self, shell_id, command, args)
    proto = Forgetful()
    r = runner(proto)
    r.invoke([('a', {})])
    assert proto.calls.count('open_shell') == 2 and r.round_trips == 1
    proto.failures = 2
    with pytest.raises(RemoteCommandError, match='code 2150858843'):
        r.invoke([('a', {})])


def test_insecure_choices_pass_only_when_accepted_and_stay_named():
    o = WinRMOptions(scheme='http', transport='basic', allow_insecure=True, **BASE)
    assert o.insecure_choices() == ['winrm_scheme http with winrm_transport basic sends the password and every '
                                    'command unencrypted']
    assert WinRMOptions(scheme='http', **BASE).insecure_choices() == []  # NTLM encrypts the messages
    assert WinRMOptions(scheme='http', delegation='scheduled_task', **BASE).encrypted


def test_a_shell_lost_while_the_command_runs_is_a_drop_reads_are_sent_again_mutations_are_not():
    """The cluster name moved to another node between Command and Receive: that node knows no such shell."""
    fault = winrm.exceptions.WSManFaultError(500, 'x', '', 'shell not found', wsman_fault_code=2150858843)

    class Moved(FakeProtocol):
        failures = 1

        def get_command_output_raw(self, shell_id, command_id):
            if self.failures:
                self.failures -= 1
                self.calls.append('get_command_output_raw')
                raise fault
            return FakeProtocol.get_command_output_raw(self, shell_id, command_id)
    proto = Moved()
    r = runner(proto)
    r._sleep = lambda s: None
    r.invoke([('cluster.nodes', {})])  # a read: sent again in a new shell
    assert proto.calls.count('open_shell') == 2 and proto.calls.count('run_command') == 2
    proto.failures = 1
    with pytest.raises(ConnectionFailure, match='forgot the shell while lock.cas was running') as err:
        r.invoke([('lock.cas', {})])  # a mutation: the caller re-reads
    assert err.value.details['transient'] is True


class WarmProtocol(FakeProtocol):
    """A warm shim process: answers each request line with its nonce and keeps running."""

    def __init__(self, **kw):
        FakeProtocol.__init__(self, **kw)
        self.lines = []
        self.extra = b''        # output waiting before the answer (an interrupted request's answer)

    def run_command(self, shell_id, command, args):
        self.lines = []
        return FakeProtocol.run_command(self, shell_id, command, args)

    def send_command_input(self, shell_id, command_id, data, end):
        FakeProtocol.send_command_input(self, shell_id, command_id, data, end)
        self.lines.append(data.decode('ascii').strip().splitlines()[-1])

    def get_command_output_raw(self, shell_id, command_id):
        self._maybe_fail('get_command_output_raw')
        request = _shim.decode_request(self.lines[-1])
        answer = (_shim.encode_response(dict(self.response, nonce=request['nonce'])) + '\r\n').encode()
        extra, self.extra = self.extra, b''
        return extra + answer, b'', None, False


def test_one_warm_powershell_answers_every_round_trip_of_a_runner():
    proto = WarmProtocol()
    r = runner(proto)
    r.invoke([('cluster.get', {})])
    r.invoke([('cluster.nodes', {})], poll=True)
    # Started once: the shim went with the first request only, each later round trip is a Send and a Receive.
    assert proto.calls.count('run_command') == 1 and r.starts == 1 and r.round_trips == 2 and r.polls == 1
    assert proto.stdin.count(_shim.REQUEST_SEPARATOR.encode()) == 1 and len(proto.lines) == 2
    assert [c for c in proto.calls if c != 'open_shell'][-2:] == ['send_command_input', 'get_command_output_raw']
    first, second = (_shim.decode_request(line) for line in proto.lines)
    assert first['nonce'] != second['nonce'] and second['calls'][0]['op'] == 'cluster.nodes'
    r.close()
    assert proto.calls[-1] == 'close_shell' and r._command_id is None


def test_an_answer_to_another_request_is_passed_over():
    proto = WarmProtocol(response={'protocol': 1, 'computer': 'N1', 'results': [{'op': 'a', 'ok': True, 'value': 2}]})
    r = runner(proto)
    proto.extra = (_shim.encode_response({'protocol': 1, 'computer': 'N1', 'nonce': 'old', 'results': [
        {'op': 'a', 'ok': True, 'value': 1}]}) + '\r\n').encode()
    assert r.call('a') == 2


def test_a_warm_process_that_is_gone_gets_the_request_in_a_new_one_and_nothing_twice():
    gone = winrm.exceptions.WSManFaultError(500, 'x', '', 'The command ID is not valid.', wsman_fault_code=2150858882)

    class Restarted(WarmProtocol):
        forget = False

        def send_command_input(self, shell_id, command_id, data, end):
            if self.forget:
                self.forget = False
                self.calls.append('send_command_input')
                raise gone
            WarmProtocol.send_command_input(self, shell_id, command_id, data, end)
    proto = Restarted()
    r = runner(proto)
    r.invoke([('a', {})])
    proto.forget = True
    r.invoke([('lock.cas', {})])
    assert proto.calls.count('run_command') == 2 and r.starts == 2 and r.round_trips == 2
    assert [_shim.decode_request(line)['calls'][0]['op'] for line in proto.lines] == ['lock.cas']  # sent once
    assert proto.stdin.count(_shim.REQUEST_SEPARATOR.encode()) == 2   # the new process got the shim again


def test_a_process_that_ends_without_answering_is_an_error_and_the_next_call_starts_another():
    class Dies(WarmProtocol):
        def get_command_output_raw(self, shell_id, command_id):
            self._maybe_fail('get_command_output_raw')
            return b'', b'', 1, True
    proto = Dies()
    r = runner(proto)
    with pytest.raises(RemoteCommandError, match='exited with code 1 and no result'):
        r.invoke([('a', {})])
    assert r._command_id is None
    with pytest.raises(RemoteCommandError):
        r.invoke([('a', {})])
    assert proto.calls.count('run_command') == 2
