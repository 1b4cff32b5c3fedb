"""Fixtures of the amqp1 tests: ``amqp1_url`` (a vhost of the session on the shared
broker's AMQP 1.0 side) comes from the contract suite's fixtures."""

from tests.contract.conftest import amqp1_url  # noqa: F401 - a fixture
