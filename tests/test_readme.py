"""The README says what the code does: each helpdesk's table of figures and needs."""

from __future__ import annotations

import pytest

from supervisor_tui.adapters.base import needs_table
from supervisor_tui.adapters.freshdesk.adapter import FreshdeskAdapter
from supervisor_tui.adapters.jsm.adapter import JsmAdapter
from supervisor_tui.adapters.polling import PolledSource
from supervisor_tui.adapters.servicenow.adapter import ServiceNowAdapter
from supervisor_tui.adapters.zendesk.adapter import ZendeskAdapter
from supervisor_tui.model import Capability

from .conftest import ROOT


@pytest.mark.parametrize(
    "adapter", [ZendeskAdapter, FreshdeskAdapter, JsmAdapter, ServiceNowAdapter]
)
def test_the_readme_table_of_each_helpdesk_is_its_declared_needs(
    adapter: type[PolledSource],
) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert needs_table(adapter.NEEDS) in readme
    declared = [need.capability for need in adapter.NEEDS]
    assert len(declared) == len(set(declared))  # one row per capability
    assert Capability.TICKETS in declared and Capability.WRITE_BACK in declared
    for need in adapter.NEEDS:
        assert need.endpoint and need.requires and need.without
