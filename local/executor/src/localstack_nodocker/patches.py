"""Fixes to LocalStack 2026.3.0 that the local cloud needs, applied at LocalStack start.

Registered in ``localstack.hooks.on_infra_start`` (see pyproject.toml), so they are in
place before any service handles a request, whichever executor is selected.
"""

from __future__ import annotations

import logging

from localstack.runtime import hooks

LOG = logging.getLogger(__name__)


@hooks.on_infra_start()
def fix_log_stream_in_group_with_subscription_filter() -> None:
    """CreateLogStream in a log group with a subscription filter fails with
    ``'dict_values' object is not subscriptable`` (leaving the stream half-created), and
    with it every Lambda log write into such a group.

    LocalStack's patch of moto's ``LogGroup.create_log_stream`` does
    ``self.describe_subscription_filters()[0]["filterPattern"]``, written for a moto that
    returned a list of dicts; moto-ext 5.1.25 returns ``dict_values`` of
    ``SubscriptionFilter`` objects. Give it a list, and let a filter be read as its JSON.
    """
    from moto.logs.models import LogGroup, SubscriptionFilter

    if getattr(LogGroup.describe_subscription_filters, "_nodocker_fixed", False):
        return

    def describe_subscription_filters(self: LogGroup) -> list[SubscriptionFilter]:
        return list(self.subscription_filters.values())

    describe_subscription_filters._nodocker_fixed = True  # type: ignore[attr-defined]
    LogGroup.describe_subscription_filters = describe_subscription_filters  # type: ignore[method-assign]
    if not hasattr(SubscriptionFilter, "__getitem__"):
        SubscriptionFilter.__getitem__ = lambda self, key: self.to_json()[key]  # type: ignore[attr-defined]
    LOG.debug("nodocker: patched moto LogGroup.describe_subscription_filters")


@hooks.on_infra_start()
def fix_delete_of_failed_function() -> None:
    """DeleteFunction of a function in state Failed answers InternalError ("Unable to find
    version manager") and leaves the function in place for good: LocalStack stops the
    version manager of a failed version right away, and ``stop_version`` then finds
    nothing to stop. Nothing to stop is not an error; a redeploy must be able to delete
    a function whose runtime was missing."""
    from localstack.services.lambda_.invocation.lambda_service import LambdaService

    original = LambdaService.stop_version
    if getattr(original, "_nodocker_fixed", False):
        return

    def stop_version(self: LambdaService, qualified_arn: str) -> None:
        try:
            original(self, qualified_arn)
        except ValueError as e:
            if "Unable to find version manager" not in str(e):
                raise
            LOG.debug("nodocker: no version manager to stop for %s", qualified_arn)

    stop_version._nodocker_fixed = True  # type: ignore[attr-defined]
    LambdaService.stop_version = stop_version  # type: ignore[method-assign]
