"""Kill the controller's whole process tree at a chosen instant of a playbook run, then re-run.

The instant is a task boundary: the Nth task banner Ansible prints (it prints the banner just before
the task starts), optionally followed by a delay that lands in the middle of that task's wait. Every
process of the run dies at once, as when a controller host or an AWX pod dies: ansible-playbook, its
workers and anything they started. A process group is not enough: Ansible's workers leave it
(``WorkerProcess._detach`` calls ``os.setsid()``), and a worker that survives goes on with its task.
"""

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# The project's controller settings (internal_poll_interval), as ansible-playbook started in ROOT reads them.
ANSIBLE_CFG = os.path.join(ROOT, 'ansible.cfg')
BANNER = re.compile(r'^TASK \[(.*)\] \*')


def command(path, inventory, extra_vars):
    return [os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '-i', inventory,
            os.path.join(ROOT, path), '-e', json.dumps(extra_vars)]


def environment(collections_path, tmp_path):
    return dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections_path, ANSIBLE_NOCOLOR='1',
                ANSIBLE_HOST_KEY_CHECKING='false', ANSIBLE_RETRY_FILES_ENABLED='false',
                ANSIBLE_LOCAL_TEMP=str(tmp_path / 'ansible-tmp'), ANSIBLE_FORCE_COLOR='0',
                ANSIBLE_CONFIG=ANSIBLE_CFG)


def run_and_kill(cmd, env, banner_index=None, delay=0.0, timeout=600, banner_text=None, kill_when=None):
    """Run ``cmd``; kill its process group ``delay`` seconds after the ``banner_index``-th task banner
    (0-based), or after the first banner containing ``banner_text``; with ``kill_when`` (a callable), once it
    returns true after that banner, then ``delay`` seconds later (an instant inside a task, such as the
    lab seeing a restart start). Returns (banners seen, killed?, output). A run that ends first is not killed."""
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    banners, lines, killed = [], [], threading.Event()

    def kill():
        if kill_tree(proc.pid):
            killed.set()
    timer = threading.Timer(timeout, kill)
    timer.start()
    try:
        for line in proc.stdout:
            lines.append(line)
            match = BANNER.match(line)
            if match:
                banners.append(match.group(1))
                hit = (len(banners) - 1 == banner_index if banner_text is None else
                       banner_text in banners[-1] and not any(banner_text in b for b in banners[:-1]))
                if hit and kill_when is not None:
                    threading.Thread(target=_kill_once, args=(kill_when, delay, kill, proc), daemon=True).start()
                elif hit:
                    if delay:
                        threading.Timer(delay, kill).start()
                    else:
                        kill()
        proc.wait()
    finally:
        timer.cancel()
        kill_tree(proc.pid)  # nothing of the run outlives it
    return banners, killed.is_set(), ''.join(lines)


def _children():
    """{parent pid: [child pids]} of every process now."""
    tree = {}
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % entry) as handle:
                ppid = int(handle.read().rsplit(')', 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        tree.setdefault(ppid, []).append(int(entry))
    return tree


def kill_tree(pid):
    """SIGKILL ``pid`` and every process descended from it, whatever session each is in. The tree is frozen
    first (SIGSTOP, until no new process shows up), so that nothing forks between the look and the kill.
    Returns whether ``pid`` was there to kill."""
    frozen = []
    while True:
        tree, found, todo = _children(), [], [pid]
        while todo:
            current = todo.pop()
            found.append(current)
            todo.extend(tree.get(current, []))
        new = [p for p in found if p not in frozen]
        if not new:
            break
        for p in new:
            try:
                os.kill(p, signal.SIGSTOP)
            except ProcessLookupError:
                pass
            frozen.append(p)
    alive = False
    for p in frozen:
        try:
            os.kill(p, signal.SIGKILL)
            alive = alive or p == pid
        except ProcessLookupError:
            pass
    return alive


def _kill_once(condition, delay, kill, proc):
    while proc.poll() is None:
        if condition():
            time.sleep(delay)
            kill()
            return
        time.sleep(0.05)


def task_banners(cmd, env):
    """The task banners of a whole run (to choose kill points from), and its output."""
    banners, _killed, out = run_and_kill(cmd, env, banner_index=-1)
    return banners, out
