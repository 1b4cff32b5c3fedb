"""Helpers of ``tools/bench_rabbit.py``: worker processes, implementations, report tables.

- :mod:`bench.ipc`: the line-delimited JSON the orchestrator and its workers exchange, and
  the server-side tally (count, CPU and context switches between the first and the last
  measured message).
- :mod:`bench.impls`: the three implementations behind one interface: legacy-rpc and
  oslo.messaging through the same oslo.messaging API, and raw py-amqp request/reply.
- :mod:`bench.worker`: the server or client process of one scenario of one implementation.
- :mod:`bench.report`: Markdown tables, ratios and goal status.
- :mod:`bench.profiling`: summaries of the cProfile / py-spy profiles of ``--profile``
  (also runnable: ``python tools/bench/profiling.py DIR``).
"""
