"""Test infrastructure for resilience tests that assert what the broker holds.

- ``nodes``: private RabbitMQ nodes and clusters that the tests start and stop themselves,
  so that restarts, crashes and partitions never touch the shared broker.
- ``inspect``: what a broker holds (queues, consumers, channels, connections), read over
  the management HTTP API or ``rabbitmqctl``.
- ``faultproxy``: a TCP proxy that forwards, black-holes, resets or delays connections.
- ``fixtures``: the pytest fixtures over all three (registered in ``tests/conftest.py``).
"""
