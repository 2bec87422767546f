"""BmcClient over both backends against the lab's BMCs (real IPMI over UDP, real Redfish over HTTPS)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


import hashlib
import shutil
import ssl
import subprocess

import pytest

from ansible_collections.wsfc.rolling.plugins.module_utils._bmc import actions
from ansible_collections.wsfc.rolling.plugins.module_utils._bmc.client import BmcClient, BmcOptions, Busy, connect
from ansible_collections.wsfc.rolling.plugins.module_utils._errors import (
    AuthenticationFailure, ConnectionFailure, InvalidOption, RemoteCommandError, WrongNode)
from lab import cli as lab_cli
from unit.labproto import bmc_args

PROTOCOLS = ('ipmi', 'redfish')


@pytest.fixture
def lab(bmc_lab):
    return bmc_lab


def options(lab, node, protocol, **kw):
    return BmcOptions(**bmc_args(lab, node, protocol, **kw))


def lab_node(lab, name):
    return next(n for n in lab_cli.control(lab, '/state')['nodes'] if n['name'] == name)


def bmc_events(lab, node):
    return [e for e in lab_cli.control(lab, '/events') if e.get('node') == node and e['kind'].startswith('bmc.')]


@pytest.mark.parametrize('protocol', PROTOCOLS)
def test_power_cycle_and_boot_override_follow_the_model(lab, protocol):
    node = 'HV-N3' if protocol == 'ipmi' else 'HV-N4'
    client = connect(options(lab, node, protocol))
    assert client.power_state() == 'on'
    assert client.boot() == {'device': 'none', 'persistent': False, 'uefi': None}
    system = client.system()
    assert system['firmware_version'] == '2.41'
    if protocol == 'redfish':
        assert system['serial_number'] == lab_node(lab, node)['name'].replace('HV-N', 'LAB0000')

    result = actions.ensure_boot(client, 'network')
    assert result['changed'] and result['boot'] == {'device': 'network', 'persistent': False, 'uefi': True}
    assert lab_node(lab, node)['boot_device'] == 'network'
    assert not actions.ensure_boot(client, 'network')['changed']  # idempotent: nothing sent
    assert len([e for e in bmc_events(lab, node) if e['kind'] == 'bmc.boot']) == 1

    result = actions.ensure_power(client, 'powered_off', graceful=True, poll_interval=0.05)
    assert result['changed'] and result['actions'] == ['soft_off'] and result['power_state'] == 'off'
    assert lab_node(lab, node)['state'] == 'Down'
    sent = len(bmc_events(lab, node))
    assert actions.ensure_power(client, 'powered_off', poll_interval=0.05)['changed'] is False
    assert len(bmc_events(lab, node)) == sent
    # Check mode reads only.
    assert actions.ensure_power(client, 'powered_on', check_mode=True)['changed'] is True
    assert len(bmc_events(lab, node)) == sent and lab_node(lab, node)['chassis'] == 'Off'

    # No image offered to the node: the one-time network boot falls through to the disk; the override is consumed.
    lab_cli.control(lab, '/', {'action': 'stage_image', 'node': node, 'os': None})
    result = actions.ensure_power(client, 'powered_on', poll_interval=0.05)
    assert result['actions'] == ['on'] and result['power_state'] == 'on'
    assert client.boot()['device'] == 'none'
    boots = [e for e in lab_cli.control(lab, '/events') if e['kind'] == 'node.firmware_boot' and e['node'] == node]
    assert boots[-1]['device'] == 'network'

    actions.ensure_boot(client, 'disk', persistent=True, uefi=False)
    assert client.boot() == {'device': 'disk', 'persistent': True, 'uefi': False}
    assert actions.ensure_power(client, 'restarted', graceful=False, poll_interval=0.05)['actions'] == ['cycle']
    assert client.boot()['device'] == 'disk'  # a persistent override stays
    actions.ensure_boot(client, 'none')
    assert client.boot()['device'] == 'none'
    client.close()


@pytest.mark.parametrize('protocol', PROTOCOLS)
def test_wrong_password_is_an_authentication_failure_tried_once(lab, protocol):
    client = connect(options(lab, 'HV-N1', protocol, password='not-the-password'))
    client.sleep = lambda seconds: pytest.fail('a refused login must not be retried')
    with pytest.raises(AuthenticationFailure, match="refused .*'ADMIN'"):
        client.power_state()
    assert client.requests == 1


@pytest.mark.parametrize('protocol', PROTOCOLS)
def test_unreachable_bmc_gives_a_clear_connection_failure_after_retries(lab, protocol):
    lab_cli.control(lab, '/', {'action': 'fault', 'fault': 'bmc_unreachable', 'value': ['HV-N2']})
    try:
        client = connect(options(lab, 'HV-N2', protocol, retries=1, timeout=2))
        pauses = []
        client.sleep = pauses.append
        with pytest.raises(ConnectionFailure, match='BMC 127.* did not answer over %s' % ('IPMI' if protocol == 'ipmi' else 'Redfish')) as exc:
            client.power_state()
        assert exc.value.details['attempts'] == 2 and pauses == [1.0]
    finally:
        lab_cli.control(lab, '/', {'action': 'fault', 'fault': 'bmc_unreachable', 'value': None})
    assert connect(options(lab, 'HV-N2', protocol)).power_state() == 'on'


def test_redfish_certificate_validation_ca_and_pinning(lab):
    # Each BMC has its own certificate; the pin is HV-N1's BMC certificate.
    der = ssl.PEM_cert_to_DER_cert(open(lab['ca_path'].replace('ca.pem', 'bmc-HV-N1.pem')).read())
    right = hashlib.sha256(der).hexdigest()
    pinned = connect(options(lab, 'HV-N1', 'redfish', ca_path=None, fingerprint=':'.join(right[i:i + 2] for i in range(0, 64, 2))))
    assert pinned.power_state() == 'on'
    with pytest.raises(ConnectionFailure, match='could not be validated'):
        connect(options(lab, 'HV-N1', 'redfish', ca_path=None, fingerprint='0' * 64)).power_state()
    with pytest.raises(ConnectionFailure, match='could not be validated'):     # another BMC's certificate
        connect(options(lab, 'HV-N2', 'redfish', ca_path=None, fingerprint=':'.join(right[i:i + 2] for i in range(0, 64, 2)))).power_state()
    unpinned = connect(options(lab, 'HV-N1', 'redfish', ca_path=None, retries=3))
    unpinned.sleep = lambda seconds: pytest.fail('a certificate failure must not be retried')
    with pytest.raises(ConnectionFailure, match='Give ca_path'):
        unpinned.power_state()


def test_ipmitool_works_against_the_lab_bmc(lab):
    if shutil.which('ipmitool') is None:
        pytest.skip('ipmitool is not installed (tools/setup installs it with apt-get where it can)')
    bmc = lab['bmc']
    base = ['ipmitool', '-I', 'lanplus', '-C', '3', '-H', bmc['addresses']['HV-N1'], '-p', str(bmc['ipmi_port']),
            '-U', bmc['user'], '-P', bmc['password']]
    out = subprocess.run(base + ['chassis', 'power', 'status'], capture_output=True, text=True, timeout=30, check=True)
    assert out.stdout.strip() == 'Chassis Power is on'
    subprocess.run(base + ['chassis', 'bootdev', 'pxe', 'options=efiboot'], capture_output=True, timeout=30, check=True)
    assert lab_node(lab, 'HV-N1')['boot_device'] == 'network'
    out = subprocess.run(base + ['chassis', 'bootparam', 'get', '5'], capture_output=True, text=True, timeout=30, check=True)
    assert 'Force PXE' in out.stdout and 'BIOS EFI boot' in out.stdout
    connect(options(lab, 'HV-N1', 'ipmi')).set_boot('none')


class FlakyBmc(BmcClient):
    """A backend that is busy a given number of times first."""

    def __init__(self, busy):
        super().__init__(BmcOptions('bmc.test', 'u', 'p', retries=3), sleep=self.pause)
        self.busy, self.pauses = busy, []

    def pause(self, seconds):
        self.pauses.append(seconds)

    def _power_state(self):
        if self.busy:
            self.busy -= 1
            raise Busy('completion code 0xC0')
        return 'on'


def test_busy_bmc_is_retried_with_doubling_backoff():
    client = FlakyBmc(busy=2)
    assert client.power_state() == 'on' and client.pauses == [1.0, 2.0]
    with pytest.raises(ConnectionFailure, match='stayed busy'):
        FlakyBmc(busy=9).power_state()


@pytest.mark.parametrize('kwargs, message', [
    (dict(protocol='smash'), 'protocol must be one of ipmi, redfish'),
    (dict(port=70000), 'port must be between'),
    (dict(fingerprint='abc'), 'fingerprint must be'),
    (dict(name=''), 'name'),
    (dict(retries=-1), 'retries'),
    (dict(protocol='redfish', validate_certs=False), 'Refusing an insecure connection to BMC bmc.test: validate_certs '
                                                     'false accepts any certificate.*allow_insecure=true'),
])
def test_bad_options_are_refused_before_anything_is_sent(kwargs, message):
    args = dict(name='bmc.test', user='u', password='p')
    args.update(kwargs)
    with pytest.raises(InvalidOption, match=message):
        BmcOptions(**args)
    with pytest.raises(InvalidOption, match='device must be one of'):
        FlakyBmc(0).set_boot('floppy')


def test_a_bmc_of_another_system_is_refused_before_any_command(lab):
    """The inventory gives HV-N2's BMC address for HV-N1: the serial numbers differ (Redfish reports one)."""
    serial_n1 = lab_cli.control(lab, '/bmc/HV-N1')['serial']
    before = len(bmc_events(lab, 'HV-N2'))
    with pytest.raises(WrongNode) as info:
        connect(options(lab, 'HV-N2', 'redfish', system_serial=serial_n1))
    assert 'manages the system with serial number %s, not %s' % (lab_cli.control(lab, '/bmc/HV-N2')['serial'], serial_n1) in str(info.value)
    assert len(bmc_events(lab, 'HV-N2')) == before
    client = connect(options(lab, 'HV-N1', 'redfish', system_serial=serial_n1))
    assert client.identity_confirmed is True
    client.close()
    # IPMI's Get Device ID has no serial number: not confirmed, and said so, rather than refused.
    client = connect(options(lab, 'HV-N1', 'ipmi', system_serial=serial_n1))
    assert client.identity_confirmed is False
    client.close()


def test_unvalidated_redfish_only_when_accepted_or_pinned():
    assert BmcOptions('b', 'u', 'p', protocol='redfish', validate_certs=False, allow_insecure=True).insecure_choices()
    assert not BmcOptions('b', 'u', 'p', protocol='redfish', validate_certs=False, fingerprint='a' * 64).insecure_choices()
    assert not BmcOptions('b', 'u', 'p', protocol='ipmi', validate_certs=False).insecure_choices()


def fault(lab, name, value):
    lab_cli.control(lab, '/', {'action': 'fault', 'fault': name, 'value': value})


def violations(lab):
    return [e for e in lab_cli.control(lab, '/events') if e['kind'] == 'invariant.violation']


def test_an_enclosure_managers_systems_are_chosen_by_serial_or_id_never_the_first_by_chance(lab):
    """HV-N3's BMC lists a neighbour's system first, as an enclosure's manager does."""
    fault(lab, 'redfish_enclosure', ['HV-N3'])
    try:
        serial = lab_cli.control(lab, '/bmc/HV-N3')['serial']
        with pytest.raises(InvalidOption) as info:
            connect(options(lab, 'HV-N3', 'redfish')).power_state()
        assert 'manages 2 systems (1, 2): give system_id (wsfc_bmc_system_id) or' in str(info.value)
        client = connect(options(lab, 'HV-N3', 'redfish', system_serial=serial))
        assert client.identity_confirmed is True and client.system()['serial_number'] == serial
        client.set_boot('network')
        assert lab_node(lab, 'HV-N3')['boot_device'] == 'network'
        client.set_boot('none')
        before = len(bmc_events(lab, 'HV-N3'))
        client.set_power('cycle')
        client.close()
        assert [e['kind'] for e in bmc_events(lab, 'HV-N3')[before:]][:2] == ['bmc.reset', 'bmc.power']
        client = connect(options(lab, 'HV-N3', 'redfish', system_id='2'))
        client.set_boot('none')
        client.close()
        with pytest.raises(WrongNode, match='manages 2 systems and none has serial number NOPE'):
            connect(options(lab, 'HV-N3', 'redfish', system_serial='NOPE'))
        with pytest.raises(InvalidOption, match='has no system 7'):
            connect(options(lab, 'HV-N3', 'redfish', system_id='7')).power_state()
        assert violations(lab) == []
        # What a client that took the first system would have done: the lab calls it a violation.
        neighbour = connect(options(lab, 'HV-N3', 'redfish', system_id='1'))
        neighbour.set_boot('network')
        neighbour.close()
        assert [v['rule'] for v in violations(lab)] == ['bmc_touched_another_system']
    finally:
        fault(lab, 'redfish_enclosure', None)


def test_a_patch_names_the_version_it_read_and_a_bmc_without_etags_is_patched_plainly(lab):
    """The lab's BMC answers 428 to a PATCH without If-Match and 412 to a stale one."""
    client = connect(options(lab, 'HV-N4', 'redfish'))
    client.set_boot('cd')
    assert lab_node(lab, 'HV-N4')['boot_device'] == 'cd'
    # Another client changed the system since this one read it: the stale PATCH is refused, read again, sent again.
    client._etag = 'W/"stale"'
    client._patch_system({'Boot': {'BootSourceOverrideEnabled': 'Disabled'}}, 'clear the override')
    assert lab_node(lab, 'HV-N4')['boot_device'] == 'none'
    client._etag = None
    with pytest.raises(RemoteCommandError, match='HTTP 428'):
        client._request('PATCH', client._system_uri(), 'set the boot override', body={'Boot': {'BootSourceOverrideEnabled': 'Disabled'}})
    client.close()


@pytest.mark.parametrize('allowed, sent', [
    (['On', 'ForceOff', 'PowerCycle'], 'PowerCycle'),
    (['On', 'ForceOff', 'ForceRestart', 'PowerCycle'], 'ForceRestart')])
def test_the_reset_type_is_one_the_system_allows(lab, allowed, sent):
    fault(lab, 'redfish_reset_types', {'HV-N1': allowed})
    try:
        client = connect(options(lab, 'HV-N1', 'redfish'))
        before = len(bmc_events(lab, 'HV-N1'))
        client.set_power('cycle')
        assert [e['reset_type'] for e in bmc_events(lab, 'HV-N1')[before:] if e['kind'] == 'bmc.reset'] == [sent]
        with pytest.raises(RemoteCommandError, match=r'allows no reset type for soft_off \(wanted one of GracefulShutdown; it allows '
                                                     + ', '.join(allowed)):
            client.set_power('soft_off')
        client.close()
    finally:
        fault(lab, 'redfish_reset_types', None)
