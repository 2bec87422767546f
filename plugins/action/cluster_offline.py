# -*- coding: utf-8 -*-
# Copyright: (c) 2026, wsfc.rolling developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Runs the module wsfc.rolling.cluster_offline in the controller's worker (plugin_utils/module_action.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.wsfc.rolling.plugins.plugin_utils.module_action import ActionModule  # noqa: F401 pylint: disable=unused-import
