"""The lab process: the model, a WinRM listener per node and for the cluster name, a control API.

Run through the CLI (``python tests/lab start ...``), which starts this module as a background
process and stops it by PID. Everything listens on loopback only.
"""

import argparse
import copy
import http.server
import json
import os
import signal
import subprocess
import sys
import threading
import time

from . import maintenance, provisioning
from . import scenario as scenario_mod
from .redfish import RedfishListener
from .tls import make_pki
from . import cau
from .wsman import WINRM_LIMITS, ShellHost, WsmanListener

LAB_USER = 'admin'
LAB_DOMAIN = 'LAB'
LAB_PASSWORD = 'Lab-Passw0rd!'
CONTROL_PORT = 7000
# Standard ports when the lab may bind them (root), else unprivileged stand-ins; the inventory says which.
IPMI_PORT = 623 if hasattr(os, 'geteuid') and os.geteuid() == 0 else 6230
REDFISH_PORT = 443 if hasattr(os, 'geteuid') and os.geteuid() == 0 else 8443


class LabServer:
    def __init__(self, scenario, run_dir, net='127.0.10', clock_scale=None, weather=None):
        if not net.startswith('127.'):
            raise ValueError('the lab listens on loopback only (127.0.0.0/8), not %s' % net)
        self.spec = scenario_mod.load(scenario)
        self.run_dir = os.path.abspath(run_dir)
        self.net = net
        if weather is not None:
            self.spec['weather'] = {'seed': weather}
        self.lab = scenario_mod.build(self.spec, net=net, clock_scale=clock_scale)
        self.cluster_address = '%s.10' % net
        self.control_address = '%s.2' % net
        limits = dict((k, v) for k, v in (self.spec.get('winrm') or {}).items() if k in WINRM_LIMITS)
        self.shell_hosts = dict((name, ShellHost(self.lab, name, limits)) for name in self.lab.machines)
        self.listeners = {}
        self.redfish = {}
        self.ipmi = {}                 # node -> subprocess.Popen of its IPMI BMC
        self._control = None
        self._stop = threading.Event()

    # -- routing -----------------------------------------------------------------------------

    def _node_route(self, name):
        return lambda: self.shell_hosts[name]

    def _cluster_route(self):
        # The cluster name is a resource of the core group: it answers on the group's owner.
        with self.lab.lock:
            owner = self.lab.core_group().owner
            node = self.lab.node(owner)
            if node is None or node.state == 'Down':
                return None
        return self.shell_hosts[owner]

    # -- life cycle --------------------------------------------------------------------------

    def start(self):
        os.makedirs(self.run_dir, exist_ok=True)
        self.pki = make_pki(os.path.join(self.run_dir, 'pki'), self._certificates())
        users_file = os.path.join(self.run_dir, 'ntlm-users')
        with open(users_file, 'w') as handle:
            handle.write('%s:%s:%s\n' % (LAB_DOMAIN, LAB_USER, LAB_PASSWORD))
        os.environ['NTLM_USER_FILE'] = users_file  # read by pyspnego's NTLM acceptor
        users = {LAB_USER: LAB_PASSWORD}
        # WinRM service settings: Basic authentication off and unencrypted HTTP refused unless the scenario's
        # administrator turned them on (windows-behaviour.md §15).
        winrm = self.spec.get('winrm') or {}
        service = dict(auth=('basic', 'ntlm') if winrm.get('basic') else ('ntlm',),
                       allow_unencrypted=bool(winrm.get('allow_unencrypted')))
        self.lab.users = {'%s\\%s' % (LAB_DOMAIN, LAB_USER): LAB_PASSWORD}
        for name, node in self.lab.machines.items():
            for scheme, port in (('http', 5985), ('https', 5986)):
                self.listeners[(name, scheme)] = WsmanListener(
                    self.lab, node.address, port, self._node_route(name), name, scheme=scheme, tls=self.pki[name], users=users,
                    **service)
        for scheme, port in (('http', 5985), ('https', 5986)):
            self.listeners[('cluster', scheme)] = WsmanListener(
                self.lab, self.cluster_address, port, self._cluster_route, 'cluster', scheme=scheme, tls=self.pki['cluster'],
                users=users, **service)
        for key, listener in self.listeners.items():
            node = self.lab.machine(key[0])
            if node is None or node.power == 'On':
                listener.start()
            else:
                listener.set_mode('dark')
        self.lab.net_hooks.append(self._on_net)
        self._start_control()
        self._start_bmcs()
        threading.Thread(target=self._tick, name='lab-clock', daemon=True).start()
        self.write_files()

    def _certificates(self):
        """A certificate per node (its address, name and FQDN) and per BMC. The cluster name's address
        is served by the HTTPS listener of the node that owns it, with that node's certificate (a
        certificate made for it names the node, not the cluster), unless the scenario's administrator
        added the cluster name to the nodes' certificates (``winrm: {cluster_name_in_certificates: true}``)
        (windows-behaviour.md §15)."""
        domain = self.lab.domain.lower()
        certs = {}
        for name, node in self.lab.machines.items():
            fqdn = '%s.%s' % (name.lower(), domain)
            certs[name] = (fqdn, [node.address], [name.lower(), fqdn])
            certs['bmc-' + name] = ('%s-bmc.%s' % (name.lower(), domain), [node.bmc_address], [])
        first = sorted(self.lab.nodes)[0] if self.lab.nodes else sorted(self.lab.machines)[0]
        common, addresses, names = certs[first]
        if (self.spec.get('winrm') or {}).get('cluster_name_in_certificates'):
            cluster_fqdn = '%s.%s' % (self.lab.name.lower(), domain)
            addresses, names = addresses + [self.cluster_address], names + [self.lab.name.lower(), cluster_fqdn]
        certs['cluster'] = (common, addresses, names)
        return certs

    def _tick(self):
        while not self._stop.wait(0.02):
            self.lab.tick()

    def stop(self):
        self._stop.set()
        for listener in list(self.listeners.values()) + list(self.redfish.values()):
            listener.stop()
        for proc in self.ipmi.values():
            proc.terminate()
        for proc in self.ipmi.values():
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
        if self._control is not None:
            self._control.shutdown()
            self._control.server_close()

    # -- node power affects the network: off or booting, connections time out ---------------

    def set_power(self, name, power):
        node = self._machine(name)
        self.lab.admin_power(node.name, power)

    def _on_net(self, name, mode):
        # Called by the model (with its lock held) whenever what a node's address does changes.
        for scheme in ('http', 'https'):
            listener = self.listeners.get((name, scheme))
            if listener is not None:
                listener.set_mode(mode)
        if mode != 'up':
            self.shell_hosts[name].reset()

    def _machine(self, name):
        """A machine of the lab by name; KeyError (a 400/404 of the control API) when there is none."""
        node = self.lab.machine(name)
        if node is None:
            raise KeyError(name)
        return node

    # -- BMCs: IPMI processes and Redfish listeners, bound to the model ----------------------

    def _start_bmcs(self):
        control = 'http://%s:%d' % (self.control_address, CONTROL_PORT)
        lab_dir = os.path.dirname(os.path.abspath(__file__))
        for name, node in self.lab.machines.items():
            self.redfish[name] = RedfishListener(self, name, node.bmc_address, REDFISH_PORT, self.pki['bmc-' + name])
            self.redfish[name].start()
            self.ipmi[name] = subprocess.Popen(
                [sys.executable, '-m', 'lab.ipmi_bmc', '--node', name, '--address', node.bmc_address,
                 '--port', str(IPMI_PORT), '--control', control],
                cwd=os.path.dirname(lab_dir), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        for proc in self.ipmi.values():
            if proc.stdout.readline().strip() != b'ready':
                raise RuntimeError('an IPMI BMC of the lab did not start')

    def bmc_state(self, name):
        with self.lab.lock:
            self.lab.advance()
            node = self._machine(name)
            return {
                'user': self.lab.bmc_user,
                'password': (self.lab.faults.get('bmc_password') or {}).get(node.name, self.lab.bmc_password),
                'unreachable': node.name in (self.lab.faults.get('bmc_unreachable') or []),
                'power': node.chassis, 'boot_device': node.boot_device, 'persistent': node.boot_persistent,
                'uefi': node.boot_uefi, 'host_name': node.name, 'model': node.model, 'manufacturer': node.manufacturer,
                'serial': node.serial, 'bios_version': 'LAB.2.19.1', 'bmc_firmware': '2.41',
                # An enclosure manager lists a neighbour's system before the node's own; a BMC publishes (and accepts)
                # only some reset types.
                'enclosure': node.name in (self.lab.faults.get('redfish_enclosure') or []),
                'reset_types': (self.lab.faults.get('redfish_reset_types') or {}).get(node.name),
            }

    def bmc_act(self, name, op, device=None, persistent=False, uefi=True, reset_type=None):
        with self.lab.lock:
            self.lab.advance()
            node = self._machine(name)
            if reset_type:
                self.lab.recorder.record('bmc.reset', node=node.name, reset_type=reset_type)
            if op == 'on':
                provisioning.chassis_on(self.lab, node)
            elif op == 'off':
                provisioning.chassis_off(self.lab, node)
            elif op == 'soft':
                provisioning.chassis_soft_off(self.lab, node)
            elif op == 'cycle':
                provisioning.chassis_cycle(self.lab, node)
            elif op == 'soft_restart':
                if node.power == 'On':
                    maintenance.restart(self.lab, node)
            elif op == 'boot':
                provisioning.set_boot(self.lab, node, device, persistent, uefi)
            elif op == 'neighbour':
                # A request for the other system of an enclosure's manager: another server, never to be touched.
                self.lab.recorder.violation('bmc_touched_another_system', node=node.name, request=device)
            else:
                raise ValueError('unknown BMC operation %r' % op)

    def stage_image(self, name, os_name):
        with self.lab.lock:
            node = self._machine(name)
            if os_name is None:
                self.lab.images.pop(node.name, None)
            else:
                if os_name not in provisioning.OS_CATALOG:
                    raise ValueError('unknown os %r' % os_name)
                self.lab.images[node.name] = {'os': os_name, 'ubr': 1000}

    def repair_config(self, name):
        """The administrator puts a reinstalled node's configuration right (switches, features)."""
        with self.lab.lock:
            node = self._machine(name)
            node.config = copy.deepcopy(self.lab.reference_configs[node.name])
            self.lab.recorder.record('node.config_repaired', node=node.name)

    def admin_pause(self, name):
        """An administrator pauses and drains a node for maintenance of their own, before a run (the run's invariant
        on nodes out counts the nodes the run takes out, not this one)."""
        with self.lab.lock:
            node = self._machine(name)
            maintenance.suspend(self.lab, node.name, drain=True)
            node.admin_paused = True
            self.lab.recorder.record('node.admin_paused', node=node.name)

    # -- faults ------------------------------------------------------------------------------

    FAULTS = ('update_fail', 'no_return', 'storage_stall', 'winrm_drop', 'vm_pinned', 'bmc_unreachable',
              'bmc_password', 'pxe_no_return', 'wrong_build', 'config_mismatch', 'add_refused', 'witness_offline',
              'unwritable_result', 'storage_repair_end', 'task_fails', 'setup_refused', 'password_storage_policy',
              'reboot_pending', 'storage_repair', 'clock_skew', 'download_fail', 'update_partial', 'cau_run',
              'redfish_enclosure', 'redfish_reset_types', 'cau_leftover', 'drain_completes_leaving', 'validation', 'cau_setup',
              'exclusive_update', 'restart_on_its_own')

    def inject(self, fault, value):
        """Arm a fault: update_fail {node: [kb]}, download_fail {node: [kb]} (the download fails, 0x8024402C),
        update_partial {node: [kb]} (installed with ResultCode SucceededWithErrors), no_return [node], storage_stall {percent},
        winrm_drop {node: count}, vm_pinned [vm] (the VM cannot live-migrate), bmc_unreachable [node],
        bmc_password {node: password} (the BMC's password was changed), pxe_no_return [node] (the
        deployment never finishes), wrong_build {node: os} (the image deploys another release),
        config_mismatch [node] (the unattend leaves out the virtual switch and Hyper-V),
        add_refused [node] (Add-ClusterNode times out), witness_offline true|null (the witness resource
        fails: the file share or cloud storage account cannot be reached; quorum loses its vote),
        unwritable_result [op] (the shim cannot write that operation's result as JSON),
        storage_repair_end {state: Killed|Terminated|Exception|Suboptimal} (how the next repair ends),
        task_fails {node: result} (scheduled tasks there end with that LastTaskResult, writing nothing),
        setup_refused {node: '0xC1900208' | 'no_image'} (Windows Setup exits refusing the upgrade),
        password_storage_policy [node] (registering a task with a stored password fails, 0x80070520),
        reboot_pending [node] (an earlier installation left a restart pending), storage_repair {minutes}
        (S2D starts repairing now, that many minutes of work at the resync rate, as after a node came back from a
        long absence), clock_skew {node: seconds}
        (the node's clock is that far off the cluster's), cau_run true (a self-updating CAU run starts),
        redfish_enclosure [node] (its Redfish BMC lists a neighbour system first), redfish_reset_types {node: [types]}
        (the only ResetType values its Redfish BMC publishes and accepts), cau_leftover true (an Updating Run failed and
        left the cluster locked: Get-CauRun says RunFailed until Invoke-CauRun -ForceRecovery), drain_completes_leaving
        {node: role} (that node's next drain ends Completed with the role still on it), validation {category: {level:
        warning|error, message}} (Test-Cluster reports that in that category), cau_setup {rule title: {severity,
        problem, resolution}} (Test-CauSetup's result for that rule), exclusive_update {node: [kb]} (Windows Update marks those
        updates RequiresExclusiveHandling there), restart_on_its_own [node] (the node restarts by itself a minute after
        updates were installed on it while it served)."""
        if fault not in self.FAULTS:
            raise ValueError('unknown fault %r; known: %s' % (fault, ', '.join(self.FAULTS)))
        with self.lab.lock:
            if fault == 'vm_pinned':
                unknown = set(value or []) - set(self.lab.groups)
                if unknown:
                    raise ValueError('unknown VMs: %s' % ', '.join(sorted(unknown)))
                for group in self.lab.groups.values():
                    group.live_migratable = group.name not in (value or [])
            elif fault == 'witness_offline':
                if not self.lab.quorum.resource:
                    raise ValueError('this cluster has no witness')
                self.lab.quorum.resource_state = 'Failed' if value else 'Online'
                self.lab.recorder.check_quorum(self.lab)
            elif fault == 'exclusive_update':
                for name, kbs in (value or {}).items():
                    for update in self.lab.machine(name).updates:
                        update.exclusive = update.kb in kbs
            elif fault == 'reboot_pending':
                for name in value or []:
                    self.lab.machine(name).reboot_pending = True
            elif fault == 'cau_leftover':
                self.lab.cau_leftover = 'cau-leftover-%s' % self.lab.next_id() if value else None
            elif fault == 'cau_run':
                # The CAU clustered role's schedule came: a self-updating Updating Run starts now.
                cau.start_run(self.lab)
            elif fault == 'storage_repair':
                minutes = (value or {}).get('minutes', 30)
                maintenance.start_repair(self.lab, minutes * 60.0 * self.lab.timings['resync_mb_per_second'] * 1e6)
            elif value is None:
                self.lab.faults.pop(fault, None)
            else:
                self.lab.faults[fault] = value
            self.lab.recorder.record('fault.armed', fault=fault, value=value)
            if fault == 'bmc_unreachable':
                for name, listener in self.redfish.items():
                    if name in (value or []):
                        listener.stop()
                    elif not listener.listening:
                        listener.start()

    # -- control API (loopback JSON, for the CLI and the tests) ------------------------------

    def _start_control(self):
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'

            def log_message(self, format, *args):  # noqa: A002
                pass

            def _json(self, status, doc):
                body = json.dumps(doc, default=str).encode()
                self.send_response(status)
                self.send_header('Content-Type', 'application/json')
                self.send_header('Content-Length', str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):  # noqa: N802
                lab = server.lab
                if self.path == '/state':
                    self._json(200, lab.snapshot())
                elif self.path == '/events':
                    self._json(200, lab.recorder.events)
                elif self.path.startswith('/bmc/'):
                    try:
                        self._json(200, server.bmc_state(self.path[5:]))
                    except KeyError:
                        self._json(404, {'error': 'unknown node'})
                elif self.path == '/stats':
                    lab.tick()
                    self._json(200, {'counters': lab.recorder.counters, 'invariants': lab.recorder.invariants(lab),
                                     'time': lab.clock.now(), 'clock_scale': lab.clock.scale})
                else:
                    self._json(404, {'error': 'unknown path'})

            def do_POST(self):  # noqa: N802
                length = int(self.headers.get('Content-Length') or 0)
                try:
                    doc = json.loads(self.rfile.read(length) or b'{}')
                    action = doc.get('action')
                    if action == 'power':
                        server.set_power(doc['node'], doc['power'])
                    elif action == 'cluster_service':
                        server.lab.set_cluster_service(doc['node'], doc['status'])
                    elif action == 'fault':
                        server.inject(doc['fault'], doc.get('value'))
                    elif action == 'bmc':
                        server.bmc_act(doc['node'], doc['op'], device=doc.get('device'),
                                       persistent=doc.get('persistent', False), uefi=doc.get('uefi', True))
                    elif action == 'stage_image':
                        server.stage_image(doc['node'], doc.get('os'))
                    elif action == 'repair_config':
                        server.repair_config(doc['node'])
                    elif action == 'admin_pause':
                        server.admin_pause(doc['node'])
                    elif action == 'allow_nodes_out':
                        # The run about to start is configured for this many nodes out at once (its max_nodes_out):
                        # the recorder's bound (never above one on Storage Spaces Direct).
                        server.lab.allowed_nodes_out = max(1, int(doc['count']))
                    else:
                        self._json(400, {'error': 'unknown action %r' % action})
                        return
                except (KeyError, ValueError, TypeError) as exc:
                    self._json(400, {'error': '%s: %s' % (type(exc).__name__, exc)})
                    return
                self._json(200, server.lab.snapshot())

        self._control = http.server.ThreadingHTTPServer((self.control_address, CONTROL_PORT), Handler)
        self._control.daemon_threads = True
        threading.Thread(target=self._control.serve_forever, kwargs={'poll_interval': 0.05}, daemon=True).start()

    # -- files for the user: state and Ansible inventory -------------------------------------

    def write_files(self):
        nodes = dict((name, {'address': n.address}) for name, n in self.lab.machines.items())
        state = {
            'pid': os.getpid(), 'scenario': self.spec['name'], 'cluster': self.lab.name,
            'cluster_address': self.cluster_address, 'control': 'http://%s:%d' % (self.control_address, CONTROL_PORT),
            'user': '%s\\%s' % (LAB_DOMAIN, LAB_USER), 'password': LAB_PASSWORD, 'ca_path': self.pki['ca'],
            'nodes': nodes, 'clock_scale': self.lab.clock.scale,
            'weather': self.lab.weather.seed if self.lab.weather else None,
            'bmc': {'user': self.lab.bmc_user, 'password': self.lab.bmc_password, 'ipmi_port': IPMI_PORT,
                    'redfish_port': REDFISH_PORT, 'addresses': dict((name, n.bmc_address) for name, n in self.lab.machines.items())},
        }
        hosts = dict((name, {'wsfc_winrm_host': n.address, 'wsfc_bmc_host': n.bmc_address})
                     for name, n in self.lab.machines.items())
        inventory = {'all': {'children': {
            'wsfc_cluster': {
                'hosts': hosts,
                'vars': {
                    'wsfc_cluster_name': self.lab.name,
                    'wsfc_cluster_address': self.cluster_address,
                    'wsfc_winrm_user': state['user'],
                    'wsfc_winrm_password': LAB_PASSWORD,
                    'wsfc_winrm_transport': 'ntlm',
                    'wsfc_winrm_ca_path': self.pki['ca'],
                    'wsfc_lab_control': state['control'],
                    'wsfc_bmc_user': self.lab.bmc_user,
                    'wsfc_bmc_password': self.lab.bmc_password,
                    'wsfc_bmc_protocol': 'ipmi',
                    'wsfc_bmc_port': "{{ wsfc_bmc_ipmi_port if wsfc_bmc_protocol == 'ipmi' else wsfc_bmc_redfish_port }}",
                    'wsfc_winrm_delegation': 'scheduled_task',
                    # A machine that is off or booting does not answer: connecting times out. The lab's
                    # clock runs clock_scale times faster than real time, so the default 10 s would be
                    # hours of lab time; 1 s is still minutes of it.
                    'wsfc_winrm_connection_timeout': 1,
                    'wsfc_bmc_ipmi_port': IPMI_PORT,
                    'wsfc_bmc_redfish_port': REDFISH_PORT,
                    'wsfc_bmc_ca_path': self.pki['ca'],
                    # The lab's clock runs faster than real time from a fixed date: the doctor compares
                    # each node with the cluster, not the cluster with this controller.
                    'wsfc_doctor_controller_clock': False,
                },
            },
            'controller': {'hosts': {'localhost': {
                'ansible_connection': 'local',
                'ansible_python_interpreter': '{{ ansible_playbook_python }}',
            }}},
        }}}
        import yaml
        with open(os.path.join(self.run_dir, 'inventory.yml'), 'w') as handle:
            handle.write('# Written by the wsfc.rolling lab for scenario %s; valid while the lab runs.\n' % self.spec['name'])
            yaml.safe_dump(inventory, handle, default_flow_style=False, sort_keys=False)
        tmp = os.path.join(self.run_dir, 'lab.json.tmp')
        with open(tmp, 'w') as handle:
            json.dump(state, handle, indent=2)
        os.replace(tmp, os.path.join(self.run_dir, 'lab.json'))


def main(argv=None):
    parser = argparse.ArgumentParser(description='Run the wsfc.rolling lab in the foreground.')
    parser.add_argument('--scenario', required=True)
    parser.add_argument('--dir', required=True)
    parser.add_argument('--net', default='127.0.10')
    parser.add_argument('--scale', type=float, default=None)
    parser.add_argument('--weather', type=int, default=None)
    args = parser.parse_args(argv)
    server = LabServer(args.scenario, args.dir, net=args.net, clock_scale=args.scale, weather=args.weather)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    server.start()
    while not done.wait(0.5):
        pass
    server.stop()
    try:
        os.remove(os.path.join(server.run_dir, 'lab.json'))
    except OSError:
        pass
    time.sleep(0.05)
    return 0


if __name__ == '__main__':
    sys.exit(main())
