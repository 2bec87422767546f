"""Every role documents its variables: argument_specs and defaults/main.yml agree (names, types and default
values: the spec shows the default that defaults/main.yml sets, one source of truth checked here)."""

import os

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ROLES = sorted(os.listdir(os.path.join(ROOT, 'roles')))
TYPES = {'str': str, 'int': int, 'bool': bool, 'list': list, 'dict': dict, 'float': (float, int), 'path': str}
# Included by the runbooks with their own options: no defaults and no main entry point.
INTERNAL = ('runbook',)
# The inventory contract (per cluster group or per host) is declared in the specs and comes from the inventory.
INVENTORY = 'wsfc_'


def load(role, *parts):
    path = os.path.join(ROOT, 'roles', role, *parts)
    if not os.path.exists(path) and parts[0] == 'defaults' and role in INTERNAL:
        return {}
    with open(path) as handle:
        return yaml.safe_load(handle) or {}


@pytest.mark.parametrize('role', ROLES)
def test_defaults_match_argument_specs(role):
    specs = load(role, 'meta', 'argument_specs.yml')['argument_specs']
    defaults = load(role, 'defaults', 'main.yml')
    assert ('main' not in specs and not defaults) if role in INTERNAL else 'main' in specs
    for entry, spec in specs.items():
        options = spec.get('options') or {}
        own = set(name for name in options if not name.startswith(INVENTORY))
        if role not in INTERNAL:
            assert own == set(defaults), '%s: options and defaults differ: %s' % (entry, sorted(own ^ set(defaults)))
        for name, option in options.items():
            assert option.get('type') in TYPES, '%s.%s has no type' % (entry, name)
            assert option.get('description'), '%s.%s has no description' % (entry, name)
            if name not in defaults:
                continue
            value = defaults[name]
            assert 'default' in option or option.get('required'), '%s.%s: the spec does not show its default' % (entry, name)
            assert option.get('default') == value or option.get('required'), (
                '%s.%s: the spec says default %r, defaults/main.yml sets %r' % (entry, name, option.get('default'), value))
            if isinstance(value, str) and '{{' in value:
                continue  # templated default, typed when rendered
            assert isinstance(value, TYPES[option['type']]) and not (
                option['type'] in ('int', 'float') and isinstance(value, bool)), '%s: default of %s is not %s' % (
                entry, name, option['type'])
            if 'choices' in option:
                assert value in option['choices'], '%s: default %r of %s not in choices' % (entry, value, name)


@pytest.mark.parametrize('role', ROLES)
def test_public_variables_are_prefixed_with_the_role_name(role):
    names = list(load(role, 'defaults', 'main.yml'))
    for spec in load(role, 'meta', 'argument_specs.yml')['argument_specs'].values():
        names.extend(name for name in spec.get('options') or {} if not name.startswith(INVENTORY))
    for name in names:
        assert name.startswith(role + '_'), name


def test_the_inventory_contract_is_declared_by_both_runbooks():
    for role in ('rolling_update', 'rolling_upgrade'):
        options = load(role, 'meta', 'argument_specs.yml')['argument_specs']['main']['options']
        assert options['wsfc_cluster_address'].get('required') and options['wsfc_winrm_host'].get('required')
        assert options['wsfc_winrm_password'].get('no_log')
