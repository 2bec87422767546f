"""Stand-in for ansible-test's downloaded get-pip bootstrap script (its download host is unreachable here).

ansible-test runs it in a fresh virtual environment with arguments such as
``--disable-pip-version-check pip==24.2 --no-setuptools --no-wheel``. It bootstraps pip from the
interpreter's bundled wheel (ensurepip, in a subprocess so it does not rewrite PIP_* variables in this
process) and then installs the requested packages from the package index.
"""

import subprocess
import sys

args = [a for a in sys.argv[1:] if a not in ('--no-setuptools', '--no-wheel')]
subprocess.check_call([sys.executable, '-m', 'ensurepip', '--default-pip'])
subprocess.check_call([sys.executable, '-m', 'pip', 'install', '-q'] + args)
