"""Entry point registered in ``localstack.lambda.runtime_executor`` as ``nodocker``.

Selected with ``LAMBDA_RUNTIME_EXECUTOR=nodocker``. The import of the executor is
deferred to ``load`` (as LocalStack's docker plugin does) so that listing plugins
stays cheap.
"""

from plux import Plugin


class NoDockerRuntimeExecutorPlugin(Plugin):
    namespace = "localstack.lambda.runtime_executor"
    name = "nodocker"

    def load(self, *args, **kwargs):
        from localstack_nodocker.executor import NoDockerRuntimeExecutor

        return NoDockerRuntimeExecutor
