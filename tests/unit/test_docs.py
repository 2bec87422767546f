"""The project's documents cite what is in the repository: sections that exist, tests that exist."""

import os
import re
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Working notes kept beside the repository while it was written: never a citation in it.
OUTSIDE = ('windows-facts.md', 'lab-notes.md', 'design.md', 'house-style.md')


def tracked_files():
    out = subprocess.run(['git', 'ls-files'], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return [p for p in out.splitlines() if os.path.isfile(os.path.join(ROOT, p))]


def read(path):
    with open(os.path.join(ROOT, path), encoding='utf-8', errors='replace') as handle:
        return handle.read()


def sections():
    return set(int(n) for n in re.findall(r'^## §(\d+) ', read('docs/windows-behaviour.md'), re.M))


def test_nothing_cites_a_file_outside_the_repository():
    me = os.path.relpath(os.path.abspath(__file__), ROOT)
    found = ['%s: %s' % (path, name) for path in tracked_files() if path != me
             for name in OUTSIDE if name in read(path)]
    assert not found


def test_every_cited_section_of_windows_behaviour_exists():
    known = sections()
    assert known == set(range(1, max(known) + 1))
    cited = []
    for path in tracked_files():
        for match in re.finditer(r'windows-behaviour\.md((?:,? ?§\d+)+)', read(path)):
            cited += [(path, int(n)) for n in re.findall(r'§(\d+)', match.group(1))]
    assert cited and not [c for c in cited if c[1] not in known]


def test_the_fidelity_table_names_tests_that_exist():
    text = read('docs/lab-fidelity.md')
    # Section references in the table's source column are to windows-behaviour.md.
    for n in re.findall(r'\| §(\d+)[;,| ]', text):
        assert int(n) in sections(), n
    missing = []
    for path, name in re.findall(r'`(tests/[\w/]+\.py)::(test_\w+)', text):
        assert os.path.isfile(os.path.join(ROOT, path)), path
        if not re.search(r'^def %s\(' % name, read(path), re.M):
            missing.append('%s::%s' % (path, name))
    assert not missing
