"""No-Docker Lambda runtime executor for LocalStack.

LocalStack's only built-in executor starts a Docker container per execution
environment. This package replaces the container with two local processes:

* ``envinit.py`` — the environment's *init* (what LocalStack's Go ``init`` does in the
  container): serves ``POST /invoke``, reports ready/response/error/logs to LocalStack's
  executor endpoint, enforces the timeout and writes START/END/REPORT.
* ``bootstrap.py`` — the *runtime* (what the AWS Lambda Runtime Interface Client does):
  runs under the function's runtime interpreter with only the task root, the layers
  and the runtime's own site-packages on ``sys.path``, imports the handler and calls it.

Both are self-contained scripts run by path with ``-I -S`` so that neither LocalStack's
nor the project's packages leak into a function.
"""
