# -*- coding: utf-8 -*-
# Copyright: (c) 2026, wsfc.rolling developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's one error hierarchy.

Third-party exceptions (pywinrm, requests, pyghmi) are wrapped exactly once, where they are
caught, into one of these classes; modules turn any ``CollectionError`` into ``fail_json`` in a
single place (``_module.run_module``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class CollectionError(Exception):
    """Base class of every error the collection raises on purpose.

    ``details`` carries structured data (error records, last observed state) that a module
    returns next to the message.
    """

    def __init__(self, message, details=None):
        super(CollectionError, self).__init__(message)
        self.message = message
        self.details = details or {}

    def __str__(self):
        return self.message


class InvalidOption(CollectionError):
    """Raised when a user-supplied option is malformed or inconsistent, before anything is sent."""


class MissingDependency(CollectionError):
    """Raised when a Python library the requested feature needs is not installed on the controller."""


class ConnectionFailure(CollectionError):
    """Raised when an endpoint cannot be reached: refused, unreachable, TLS failure, reset."""


class AuthenticationFailure(CollectionError):
    """Raised when the endpoint rejects the supplied credentials."""


class TimeoutFailure(CollectionError):
    """Raised when a connection, a call or a bounded wait runs out of time."""


class RemoteCommandError(CollectionError):
    """Raised when a remote operation ran and failed; ``records`` holds the PowerShell error records."""

    def __init__(self, message, records=None, details=None):
        super(RemoteCommandError, self).__init__(message, details)
        self.records = list(records or [])

    @property
    def fqids(self):
        """The FullyQualifiedErrorId of every record, for matching on the error kind."""
        return [r.get('fqid') or '' for r in self.records]


class NotFound(CollectionError):
    """Raised when a named object (cluster, node, group, disk) does not exist where it was looked for."""


class UnsafeToProceed(CollectionError):
    """Raised when a safety gate fails: the cluster is not in a state where the step may run."""


class WrongNode(UnsafeToProceed):
    """Raised when an endpoint answers as another machine than the node it was reached for (nothing ran there)."""
