# -*- coding: utf-8 -*-
# Copyright: (c) 2026, wsfc.rolling developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Windows Server and Azure Stack HCI releases the collection knows, and the upgrade steps between them.

A build number alone does not name a release: Windows Server 2022 and Azure Stack HCI 21H2 are both build
20348. A node's release is its build read together with its product (the ProductName of the node that
answers, windows-behaviour.md §4). Sources for every row: windows-behaviour.md §4 and §14.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from collections import namedtuple

from ansible_collections.wsfc.rolling.plugins.module_utils._errors import InvalidOption

SERVER = 'Windows Server'
HCI = 'Azure Stack HCI'

Release = namedtuple('Release', 'key product version build level')

# (key, product, version, build, cluster functional level). The HCI functional levels are those of the
# Windows Server release of the same code base (UNVERIFIED for 20H2 and 23H2, windows-behaviour.md §4).
RELEASES = (
    Release('ws2012r2', SERVER, '2012 R2', 9600, 8),
    Release('ws2016', SERVER, '2016', 14393, 9),
    Release('ws2019', SERVER, '2019', 17763, 10),
    Release('ws2022', SERVER, '2022', 20348, 11),
    Release('ws2025', SERVER, '2025', 26100, 12),
    Release('hci20h2', HCI, '20H2', 17784, 10),
    Release('hci21h2', HCI, '21H2', 20348, 11),
    Release('hci22h2', HCI, '22H2', 20349, 11),
    Release('hci23h2', HCI, '23H2', 25398, 12),
)

# The supported steps, each one version up: the cluster OS rolling upgrade of Windows Server (N -> N+1,
# never N+2) and the Azure Stack HCI feature updates (20H2 -> 21H2 -> 22H2, then the 23H2 OS upgrade).
STEPS = {
    'ws2012r2': 'ws2016', 'ws2016': 'ws2019', 'ws2019': 'ws2022', 'ws2022': 'ws2025',
    'hci20h2': 'hci21h2', 'hci21h2': 'hci22h2', 'hci22h2': 'hci23h2',
}

# How a node of each kind of cluster may be taken to the next release. Storage Spaces Direct (every Azure
# Stack HCI cluster) keeps a node's drives and its place in the pool only through an in-place upgrade:
# a reinstall evicts the node and its drives leave the pool (windows-behaviour.md §14).
METHODS = {'s2d': ('in_place',), 'shared': ('reprovision', 'in_place')}

BY_KEY = dict((r.key, r) for r in RELEASES)


def name(release):
    return '%s %s' % (release.product, release.version)


def product_of(product_name):
    """The product family from a ProductName / Caption ('Azure Stack HCI', 'Microsoft Windows Server 2022 ...')."""
    text = (product_name or '').lower()
    if 'azure stack hci' in text or 'azure local' in text:
        return HCI
    return SERVER


def release_of(build, product=SERVER):
    """The release of ``build`` in ``product``'s family, or None."""
    build = int(build or 0)
    return next((r for r in RELEASES if r.build == build and r.product == product), None)


def known(product=None):
    return ', '.join('%d (%s)' % (r.build, name(r)) for r in RELEASES if product in (None, r.product))


def target_release(build, product=SERVER):
    """The release ``build`` names for a cluster of ``product``; InvalidOption naming the known ones if none."""
    release = release_of(build, product)
    if release is None:
        other = [r for r in RELEASES if r.build == int(build or 0)]
        hint = (' (build %d is %s, another product: a cluster cannot change product by an upgrade)'
                % (int(build), ' and '.join(name(r) for r in other))) if other else ''
        raise InvalidOption('target build %r is not a release of %s this collection knows%s. Known: %s'
                            % (build, product, hint, known(product)))
    return release


def next_step(release):
    step = STEPS.get(release.key)
    return BY_KEY[step] if step else None


def check_step(source, target):
    """None when a node on ``source`` may go to ``target`` in one run (or is there); else why not, naming the
    allowed next step."""
    if source.key == target.key or STEPS.get(source.key) == target.key:
        return None
    step = next_step(source)
    if source.product != target.product:
        return '%s cannot be upgraded to %s (another product)%s' % (
            name(source), name(target), '; its next step is %s (build %d)' % (name(step), step.build) if step else '')
    if target.build < source.build or target.level < source.level:
        return '%s is newer than %s: a rolling upgrade does not go back' % (name(source), name(target))
    if step is None:
        return 'no upgrade from %s is known' % name(source)
    return ('%s cannot go to %s in one run: one version at a time, the next step from %s is %s (build %d)'
            % (name(source), name(target), name(source), name(step), step.build))


def check_method(method, s2d_enabled, target):
    """None when ``method`` may take nodes of this cluster to ``target``; else why not."""
    allowed = METHODS['s2d' if s2d_enabled else 'shared']
    if method in allowed:
        return None
    return ('method %s is not possible on a cluster with Storage Spaces Direct (upgrading to %s): a reinstall '
            'evicts the node and its drives leave the pool; use in_place (setup media)' % (method, name(target)))
