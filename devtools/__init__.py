"""Development tools: ``komo-braze demo``, the load generator, realistic sample submissions, and a runner
of the project's own servers as subprocesses (the demo, benchmarks and end-to-end tests use it).

Nothing here runs in production; the shared core (:mod:`komo_braze`) never imports it.
"""
