"""Fixtures the bank-channel tests share."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.sim.simbanks import Sim, running


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sim]:
    """One simulated banks process (`python -m sim.banks`) per test module, with the center's key."""
    with running(tmp_path_factory.mktemp("keys")) as simulator:
        yield simulator
