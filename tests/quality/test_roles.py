"""Every role documents its variables: argument_specs and defaults/main.yml agree (names and types)."""

import os

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ROLES = sorted(os.listdir(os.path.join(ROOT, 'roles')))
TYPES = {'str': str, 'int': int, 'bool': bool, 'list': list, 'dict': dict, 'float': (float, int)}


def load(role, *parts):
    with open(os.path.join(ROOT, 'roles', role, *parts)) as handle:
        return yaml.safe_load(handle) or {}


@pytest.mark.parametrize('role', ROLES)
def test_defaults_match_argument_specs(role):
    specs = load(role, 'meta', 'argument_specs.yml')['argument_specs']
    defaults = load(role, 'defaults', 'main.yml')
    assert 'main' in specs
    for entry, spec in specs.items():
        options = spec.get('options') or {}
        assert set(options) == set(defaults), '%s: options and defaults differ: %s' % (
            entry, sorted(set(options) ^ set(defaults)))
        for name, option in options.items():
            assert option.get('type') in TYPES, '%s.%s has no type' % (entry, name)
            assert option.get('description'), '%s.%s has no description' % (entry, name)
            value = defaults[name]
            if isinstance(value, str) and '{{' in value:
                continue  # templated default, typed when rendered
            assert isinstance(value, TYPES[option['type']]) and not (
                option['type'] in ('int', 'float') and isinstance(value, bool)), '%s: default of %s is not %s' % (
                entry, name, option['type'])
            if 'choices' in option:
                assert value in option['choices'], '%s: default %r of %s not in choices' % (entry, value, name)


@pytest.mark.parametrize('role', ROLES)
def test_public_variables_are_prefixed_with_the_role_name(role):
    for name in load(role, 'defaults', 'main.yml'):
        assert name.startswith(role + '_'), name
