# -*- coding: utf-8 -*-
# Copyright: (c) 2026, wsfc.rolling developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks of the runbooks' role variables that argument specs cannot express, by the names users set."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.wsfc.rolling.plugins.module_utils._cluster.updates import CLASSIFICATIONS, KB, unknown_classifications
from ansible_collections.wsfc.rolling.plugins.module_utils._cluster.validation import CATEGORIES as VALIDATION_CATEGORIES
from ansible_collections.wsfc.rolling.plugins.module_utils._plan import ESTIMATE_RATES

# variable suffix -> (smallest allowed value, what it is)
BOUNDS = {
    'lock_ttl': (1, 'seconds'), 'lock_stale_after': (1, 'seconds'), 'drain_timeout': (1, 'seconds'),
    'install_timeout': (1, 'seconds'), 'reboot_timeout': (1, 'seconds'), 'storage_timeout': (1, 'seconds'),
    'storage_stall_timeout': (1, 'seconds'), 'graceful_timeout': (1, 'seconds'), 'poll_interval': (0.001, 'seconds'),
    'max_retries': (0, 'retries'), 'stop_after': (0, 'seconds (0: no deadline)'), 'update_passes': (1, 'passes'),
    'min_quorum_margin': (-1, 'votes (-1: the default rule)'),
    'max_clusters_in_flight': (0, 'clusters (0: all)'), 'max_failed_clusters': (0, 'clusters (0: no budget)'),
    'max_failed_nodes': (0, 'nodes per cluster (0: the first failed node stops its cluster)'),
    'max_nodes_out': (1, 'nodes out at once (a whole number; above 1 only on clusters without Storage Spaces Direct)'),
}


def _number(value):
    """The value as a number (``-e name=5`` gives the text '5'), or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    try:
        return float(str(value).strip())
    except ValueError:
        return None


def task_file(path, base):
    """A pre/post-node task file's absolute path: ``path`` as given, or relative to ``base`` (the playbook's directory)."""
    return path if os.path.isabs(path) else os.path.normpath(os.path.join(base or '.', path))


def _task_file_error(name, path, base):
    """Why the task file ``path`` cannot be included, or None. Loading errors of an include cannot be
    rescued by the runbook (the lock would stay 'running'), so they are found before the run starts."""
    full = task_file(path, base)
    if not os.path.isfile(full):
        return '%s: no such file %s (a path, absolute or relative to the playbook directory %s)' % (name, full, base)
    try:
        import yaml
        with open(full) as handle:
            tasks = yaml.safe_load(handle)
    except (OSError, ValueError) as exc:
        return '%s: %s cannot be read as YAML: %s' % (name, full, exc)
    except Exception as exc:  # pylint: disable=broad-except
        # yaml.YAMLError and its subclasses (the yaml module is imported only here)
        return '%s: %s is not valid YAML: %s' % (name, full, ' '.join(str(exc).split()))
    if not isinstance(tasks, list) or not all(isinstance(t, dict) for t in tasks):
        return '%s: %s must hold a list of tasks' % (name, full)
    return None


def option_errors(variables, runbook, nodes=None, playbook_dir=None, names=None):
    """One message per unusable variable of ``runbook`` (``rolling_update`` / ``rolling_upgrade``). ``nodes``: the
    inventory hosts of the play; ``names``: {host: its node name} where that is not the host's name."""
    prefix = runbook + '_'
    errors = []
    for suffix in ('pre_node_tasks', 'post_node_tasks'):
        path = variables.get(prefix + suffix)
        if path:
            problem = _task_file_error(prefix + suffix, str(path), playbook_dir)
            if problem:
                errors.append(problem)
    rates = variables.get(prefix + 'estimate_rates') or {}
    if not isinstance(rates, dict):
        errors.append('%sestimate_rates must be a mapping of figures, got %r' % (prefix, rates))
    else:
        unknown = sorted(k for k in rates if k not in ESTIMATE_RATES)
        bad = sorted(k for k, v in rates.items() if k in ESTIMATE_RATES and (_number(v) is None or _number(v) <= 0))
        if unknown or bad:
            errors.append('%sestimate_rates: %s' % (prefix, '; '.join(
                (['unknown figures %s (known: %s)' % (', '.join(unknown), ', '.join(sorted(ESTIMATE_RATES)))] if unknown else [])
                + (['not positive numbers: %s' % ', '.join(bad)] if bad else []))))
    report = variables.get(prefix + 'report_dir')
    if report:
        directory = os.path.abspath(os.path.expanduser(str(report)))
        if not os.path.isdir(directory):
            errors.append('%s: the directory %s does not exist (the report is written there at the end of the run)'
                          % (prefix + 'report_dir', directory))
    for suffix, (low, unit) in sorted(BOUNDS.items()):
        name = prefix + suffix
        if name not in variables:
            continue
        value = variables[name]
        number = _number(value)
        if number is None or number < low or (suffix == 'max_nodes_out' and number != int(number)):
            errors.append('%s must be a number of %s of at least %s, got %r' % (name, unit, low, value))
    categories = variables.get(prefix + 'category_names') or []
    unknown = unknown_classifications(categories)
    if unknown:
        errors.append('%s has names that are no Windows Update classification: %s (known: %s, or a category GUID); '
                      'an unknown name would match no update and make every node look compliant'
                      % (prefix + 'category_names', ', '.join(repr(c) for c in unknown), ', '.join(CLASSIFICATIONS)))
    for suffix in ('accept_list', 'reject_list'):
        bad = [kb for kb in variables.get(prefix + suffix) or [] if not KB.match(str(kb))]
        if bad:
            errors.append('%s has values that are no KB article id like KB5068791: %s'
                          % (prefix + suffix, ', '.join(repr(kb) for kb in bad)))
    both = set(str(k).upper() for k in variables.get(prefix + 'accept_list') or []) & set(
        str(k).upper() for k in variables.get(prefix + 'reject_list') or [])
    if both:
        errors.append('%saccept_list and %sreject_list both name %s' % (prefix, prefix, ', '.join(sorted(both))))
    if nodes is not None:
        # A node is named by its inventory host or by its node name (wsfc_node_name), in any case.
        node_of = dict((str(n).lower(), str((names or {}).get(n) or n).lower()) for n in nodes)
        node_of.update((v, v) for v in list(node_of.values()))
        order = variables.get(prefix + 'node_order') or []
        strangers = [n for n in order if str(n).lower() not in node_of]
        if strangers:
            errors.append('%s names hosts that are not nodes of this cluster in the inventory: %s (nodes: %s)'
                          % (prefix + 'node_order', ', '.join(strangers), ', '.join(nodes)))
        picked = [node_of[str(n).lower()] for n in order if str(n).lower() in node_of]
        twice = sorted(set(n for n in order if str(n).lower() in node_of and picked.count(node_of[str(n).lower()]) > 1))
        if twice:
            errors.append('%s names a node more than once: %s' % (prefix + 'node_order', ', '.join(twice)))
    when = variables.get(prefix + 'validate') or []
    if not isinstance(when, list) or [w for w in when if w not in ('before', 'after')]:
        errors.append("%svalidate must be a list of 'before' and 'after', got %r" % (prefix, when))
    categories = variables.get(prefix + 'validate_categories') or []
    unknown = [c for c in categories if c not in VALIDATION_CATEGORIES] if isinstance(categories, list) else [categories]
    if unknown:
        errors.append('%svalidate_categories has unknown Test-Cluster categories %s (known: %s)'
                      % (prefix, ', '.join(repr(c) for c in unknown), ', '.join(VALIDATION_CATEGORIES)))
    if runbook == 'rolling_upgrade':
        target = variables.get(prefix + 'target_build')
        try:
            target = int(target)
        except (TypeError, ValueError):
            target = 0
        if target <= 0:
            errors.append('%starget_build (the Windows Server build to upgrade to, e.g. 20348) is required, got %r'
                          % (prefix, variables.get(prefix + 'target_build')))
        if prefix + 'method' in variables and variables[prefix + 'method'] not in ('reprovision', 'in_place'):
            errors.append("%smethod must be 'reprovision' or 'in_place', got %r" % (prefix, variables.get(prefix + 'method')))
        if variables.get(prefix + 'method') == 'in_place' and not variables.get(prefix + 'setup_media'):
            errors.append('%smethod in_place needs %ssetup_media (the path of the new release\'s setup media as the '
                          'nodes see it)' % (prefix, prefix))
    return errors
