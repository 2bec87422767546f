"""The BMC modules against an independent Redfish implementation: OpenStack's sushy-tools emulator (its fake
driver), serving two systems behind one BMC as an enclosure's manager does, over HTTPS with a certificate of the
test's own CA. Unlike the lab's BMC it publishes no serial number, no ETag and no PowerCycle reset type, and it reads
every boot override back as Continuous."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest
import requests
import yaml

from lab import tls

pytestmark = pytest.mark.integration
BLADES = {'blade-1': '11111111-1111-4111-8111-111111111111', 'blade-2': '22222222-2222-4222-8222-222222222222'}
USER, PASSWORD = 'admin', 'Sushy-Passw0rd!'


def _free_port():
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]


@pytest.fixture
def sushy(tmp_path):
    """sushy-emulator with the fake driver on 127.0.0.1 (HTTPS, HTTP Basic authentication); stopped by PID."""
    pki = tls.make_pki(str(tmp_path / 'pki'), {'bmc': ('sushy.lab.test', ['127.0.0.1'], [])})
    users = tmp_path / 'htpasswd'
    import bcrypt
    users.write_text('%s:%s\n' % (USER, bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()))
    config = tmp_path / 'sushy.conf'
    # Its state in the test's directory (by default it keeps it in the machine's temporary directory, across runs).
    config.write_text('SUSHY_EMULATOR_FAKE_DRIVER = True\nSUSHY_EMULATOR_AUTH_FILE = %r\nSUSHY_EMULATOR_STATE_DIR = %r\n'
                      'SUSHY_EMULATOR_FAKE_SYSTEMS = %r\n' % (
                          str(users), str(tmp_path / 'state'),
                          [{'uuid': uuid, 'name': name, 'power_state': 'On', 'nics': []} for name, uuid in sorted(BLADES.items())]))
    port = _free_port()
    log = open(str(tmp_path / 'sushy.log'), 'w')
    proc = subprocess.Popen([os.path.join(os.path.dirname(sys.executable), 'sushy-emulator'), '--config', str(config),
                             '--interface', '127.0.0.1', '--port', str(port), '--ssl-certificate', pki['bmc']['cert'],
                             '--ssl-key', pki['bmc']['key']], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = 'https://127.0.0.1:%d' % port
    try:
        deadline = time.time() + 60
        while True:
            try:
                if requests.get(base + '/redfish/v1/Systems', auth=(USER, PASSWORD), verify=pki['ca'], timeout=2).ok:
                    break
            except requests.exceptions.ConnectionError:
                pass
            assert proc.poll() is None and time.time() < deadline, open(str(tmp_path / 'sushy.log')).read()[-3000:]
            time.sleep(0.2)
        yield {'port': port, 'ca': pki['ca'], 'base': base}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        log.close()


def system(sushy, name):
    return requests.get('%s/redfish/v1/Systems/%s' % (sushy['base'], BLADES[name]), auth=(USER, PASSWORD), verify=sushy['ca'],
                        timeout=10).json()


PLAY = '''
- hosts: localhost
  gather_facts: false
  module_defaults:
    group/wsfc.rolling.bmc: {name: 127.0.0.1, port: %(port)d, protocol: redfish, user: %(user)s, password: "%(password)s",
                             ca_path: "%(ca)s", system_id: "{{ system_id | default(omit) }}"}
  tasks:
    - {name: Read, wsfc.rolling.bmc_info: {}, register: info}
    - {name: Boot from the network once, wsfc.rolling.bmc_boot: {device: network}, register: once, ignore_errors: true}
    - {name: Boot from the disk, wsfc.rolling.bmc_boot: {device: disk, persistent: true}, register: boot}
    - name: Power off
      wsfc.rolling.bmc_power: {state: powered_off, graceful: false, poll_interval: 0.2, wait_timeout: 60}
      register: powered_off
    - name: Power on
      wsfc.rolling.bmc_power: {state: powered_on, poll_interval: 0.2, wait_timeout: 60}
      register: powered_on
    - name: Restart
      wsfc.rolling.bmc_power: {state: restarted, graceful: false, poll_interval: 0.2, wait_timeout: 60}
      register: restarted
    - ansible.builtin.copy:
        content: "{{ {'info': info, 'once': once, 'boot': boot, 'off': powered_off, 'on': powered_on, 'restart': restarted} | to_json }}"
        dest: "{{ result_file }}"
'''


def test_the_bmc_modules_drive_the_chosen_system_of_an_independent_redfish_implementation(sushy, playbook, tmp_path):
    play = tmp_path / 'sushy.yml'
    play.write_text(PLAY % {'port': sushy['port'], 'user': USER, 'password': PASSWORD, 'ca': sushy['ca']})
    inventory = tmp_path / 'inventory.yml'
    localhost = {'ansible_connection': 'local', 'ansible_python_interpreter': sys.executable}
    inventory.write_text(yaml.safe_dump({'all': {'hosts': {'localhost': localhost}}}))
    # Two systems and nothing to say which is the node: nothing is sent, the systems are named.
    proc, result = playbook(str(play), str(inventory))
    assert proc.returncode != 0 and result is None
    assert 'manages 2 systems (%s): give system_id' % ', '.join(sorted(BLADES.values())) in ' '.join(proc.stdout.split()), proc.stdout[-3000:]
    # blade-2 by its Redfish Id: read, one-time network boot, off, on, restart; blade-1 untouched.
    before = system(sushy, 'blade-1')
    proc, result = playbook(str(play), str(inventory), {'system_id': BLADES['blade-2']})
    assert proc.returncode == 0, proc.stdout[-5000:]
    assert result['info']['system']['manufacturer'] == 'Sushy Emulator' and result['info']['power_state'] == 'on'
    # sushy reads every override back as Continuous: a one-time network boot that would stay is refused (a node
    # left booting from the network would be reinstalled at every restart); a persistent disk boot is what it is.
    assert result['once']['failed'] and 'accepted boot device network (one-time) but reads back network (persistent)' in result['once']['msg']
    assert result['boot']['changed'] and result['boot']['boot'] == {'device': 'disk', 'persistent': True, 'uefi': True}
    assert result['off']['changed'] and result['off']['power_state'] == 'off'
    assert result['on']['changed'] and result['on']['power_state'] == 'on'
    # sushy publishes ForceRestart, not PowerCycle: the restart used what the system allows.
    assert result['restart']['changed'] and result['restart']['power_state'] == 'on', json.dumps(result['restart'])
    after = system(sushy, 'blade-2')
    assert after['PowerState'] == 'On' and after['Boot']['BootSourceOverrideTarget'] == 'Hdd'
    assert system(sushy, 'blade-1') == before
