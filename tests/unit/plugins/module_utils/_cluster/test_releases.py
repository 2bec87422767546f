"""The release tables: a build read with its product, the one-step rule, the method a cluster's storage allows."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.wsfc.rolling.plugins.module_utils._cluster import releases, upgrade
from ansible_collections.wsfc.rolling.plugins.module_utils._cluster.model import ClusterProperties, Node
from ansible_collections.wsfc.rolling.plugins.module_utils._errors import InvalidOption


def cluster(level, product='Windows Server 2019 Datacenter', s2d=False):
    return ClusterProperties(name='CLU', id='1', domain='lab.test', functional_level=level, upgrade_version=3,
                             s2d_enabled=s2d, dynamic_quorum=True, witness_dynamic_weight=1, answered_by='N1',
                             product_name=product)


def nodes(*builds):
    return [Node.from_ps({'Name': 'N%d' % (i + 1), 'Id': str(i + 1), 'State': 'Up', 'DrainStatus': 'NotInitiated',
                          'NodeWeight': 1, 'DynamicWeight': 1, 'MajorVersion': 10, 'MinorVersion': 0, 'BuildNumber': b})
            for i, b in enumerate(builds)]


def test_one_build_names_two_releases_told_apart_by_the_product():
    assert releases.product_of('Azure Stack HCI') == releases.HCI
    assert releases.product_of('Microsoft Windows Server 2022 Datacenter') == releases.SERVER
    assert releases.name(releases.release_of(20348, releases.HCI)) == 'Azure Stack HCI 21H2'
    assert releases.name(releases.release_of(20348)) == 'Windows Server 2022'
    assert releases.release_of(20349) is None and releases.release_of(20349, releases.HCI).version == '22H2'


def test_every_step_goes_one_release_up_within_its_product():
    for source, target in releases.STEPS.items():
        a, b = releases.BY_KEY[source], releases.BY_KEY[target]
        assert a.product == b.product and b.build > a.build and b.level - a.level in (0, 1)
        assert releases.check_step(a, b) is None


@pytest.mark.parametrize('source, target, words', [
    ('ws2019', 'ws2025', 'one version at a time, the next step from Windows Server 2019 is Windows Server 2022 (build 20348)'),
    ('hci21h2', 'hci23h2', 'the next step from Azure Stack HCI 21H2 is Azure Stack HCI 22H2 (build 20349)'),
    ('ws2022', 'hci23h2', 'another product); its next step is Windows Server 2025 (build 26100)'),
    ('ws2022', 'ws2019', 'a rolling upgrade does not go back'),
    ('ws2025', 'ws2025', None),
])
def test_a_refused_step_names_the_allowed_next_one(source, target, words):
    why = releases.check_step(releases.BY_KEY[source], releases.BY_KEY[target])
    assert why is None if words is None else words in why


def test_hci_22h2_to_23h2_is_planned_in_place_and_never_by_reinstall():
    hci = cluster(11, 'Azure Stack HCI', s2d=True)
    plan = upgrade.plan(hci, nodes(20349, 25398, 20349), 25398, 'in_place')
    assert plan['target_release'] == 'Azure Stack HCI 23H2' and plan['product'] == releases.HCI
    assert plan['nodes_to_upgrade'] == ['N1', 'N3'] and plan['nodes_on_target'] == ['N2']
    with pytest.raises(InvalidOption, match='method reprovision is not possible on a cluster with Storage Spaces Direct'):
        upgrade.plan(hci, nodes(20349, 20349), 25398, 'reprovision')
    # A Windows Server cluster without S2D may be reinstalled.
    assert upgrade.plan(cluster(10), nodes(17763), 20348, 'reprovision')['target_release'] == 'Windows Server 2022'


@pytest.mark.parametrize('product, builds, target, words', [
    ('Azure Stack HCI', (20348, 20348), 25398, 'nodes N1, N2: Azure Stack HCI 21H2 cannot go to Azure Stack HCI 23H2 in one '
                                               'run: one version at a time, the next step from Azure Stack HCI 21H2 is '
                                               'Azure Stack HCI 22H2 (build 20349)'),
    ('Windows Server 2022 Datacenter', (20348,), 25398,
     'not a release of Windows Server this collection knows (build 25398 is Azure Stack HCI 23H2, another product'),
    ('Azure Stack HCI', (20349, 17763), 25398, 'node N2: build 17763 is no release of Azure Stack HCI this collection knows'),
])
def test_refusals_name_what_is_wrong_and_the_way_on(product, builds, target, words):
    with pytest.raises(InvalidOption) as info:
        upgrade.plan(cluster(11, product, s2d=True), nodes(*builds), target, 'in_place')
    assert words in str(info.value)


def test_unknown_builds_are_refused_before_any_connection():
    with pytest.raises(InvalidOption, match='not a Windows Server or Azure Stack HCI release build this collection knows'):
        upgrade.check_build(20000)
    upgrade.check_build(20349)
