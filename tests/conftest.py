"""Shared fixtures: a real lab HTTP app on 127.0.0.1, port 0, on a virtual clock.

``rest_lab`` is one server per test module (starting one costs ~0.1 s) whose
state is reset before every test that uses it; ``make_rest_lab`` starts extra
servers with other settings (e.g. the default 10-requests rate limit) and stops
them when the test ends.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from connectors_lib.clock import VirtualClock
from mock_servers.app import build_app
from mock_servers.data import Dataset, ShopData, build_dataset
from mock_servers.runner import ServerThread
from mock_servers.state import LabSettings, LabState

#: API keys of the two learners every test lab knows.
KEY_ANA = "clave-ana"
KEY_BETO = "clave-beto"
ADMIN_TOKEN = "admin-secreto"


@dataclass
class RestLab:
    """A running lab HTTP app and what a test needs to talk to it."""

    state: LabState
    server: ServerThread
    base_url: str

    @property
    def clock(self) -> VirtualClock:
        assert isinstance(self.state.clock, VirtualClock)
        return self.state.clock

    @property
    def orders_url(self) -> str:
        return f"{self.base_url}/api/v1/orders"

    def headers(self, key: str = KEY_ANA, **extra: str) -> dict[str, str]:
        return {"X-API-Key": key, **extra}

    @property
    def admin_headers(self) -> dict[str, str]:
        return {"X-Admin-Token": ADMIN_TOKEN}


@pytest.fixture(scope="session")
def seeded_dataset() -> Dataset:
    """The seed-42 dataset, built once (ShopData copies the orders it mutates)."""
    return build_dataset(42)


def _start(dataset: Dataset, **settings: Any) -> RestLab:
    state = LabState(
        settings=LabSettings(**settings),
        clock=VirtualClock(),
        data=ShopData(dataset),
        api_keys={KEY_ANA: "ana", KEY_BETO: "beto"},
        admin_token=ADMIN_TOKEN,
    )
    server = ServerThread(build_app(state))
    server.start()
    return RestLab(state, server, f"http://127.0.0.1:{server.port}")


@pytest.fixture(scope="module")
def _module_rest_lab(seeded_dataset: Dataset) -> Iterator[RestLab]:
    lab = _start(seeded_dataset, rate_limit=100_000)
    yield lab
    lab.server.stop()


@pytest.fixture
def rest_lab(_module_rest_lab: RestLab) -> RestLab:
    """A lab with a rate limit too high to matter, reset to its seeded state."""
    lab = _module_rest_lab
    lab.state.reset()
    lab.clock.reset()
    return lab


@pytest.fixture
def make_rest_lab(seeded_dataset: Dataset) -> Iterator[Callable[..., RestLab]]:
    """Factory: ``make_rest_lab(rate_limit=10, ...)`` starts a lab with those settings."""
    started: list[RestLab] = []

    def make(**settings: Any) -> RestLab:
        lab = _start(seeded_dataset, **settings)
        started.append(lab)
        return lab

    yield make
    for lab in started:
        lab.server.stop()
