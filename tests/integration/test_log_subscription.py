"""A subscription filter on a function's log group (evaluate -> observe_forwarder in the
design) delivers, and does not break the function's own logging.

Guards the fix in local/executor/src/localstack_nodocker/patches.py: without it,
LocalStack 2026.3.0 + moto-ext 5.1.25 fail CreateLogStream in such a group. Also pins
down a LocalStack community limit: filter patterns are not applied to subscriptions.
"""

from __future__ import annotations

from tests.integration.lsutil import log_lines

FORWARDER = """
import base64, gzip, json
def handler(event, context):
    data = json.loads(gzip.decompress(base64.b64decode(event["awslogs"]["data"])))
    for e in data["logEvents"]:
        print("FORWARDED " + data["logGroup"] + " " + e["message"].strip())
    return len(data["logEvents"])
"""


def test_subscription_filter_on_a_function_log_group(aws_client, lambda_function) -> None:
    lam, logs = aws_client("lambda"), aws_client("logs")
    forwarder = lambda_function({"app.py": FORWARDER})
    source = lambda_function({"app.py": "def handler(e, c):\n    print('metric-record 42')\n    return 1\n"})
    group = f"/aws/lambda/{source}"
    logs.create_log_group(logGroupName=group)
    arn = lam.get_function(FunctionName=forwarder)["Configuration"]["FunctionArn"]
    logs.put_subscription_filter(logGroupName=group, filterName="forward", filterPattern="metric-record", destinationArn=arn)

    logs.create_log_stream(logGroupName=group, logStreamName="manual")  # failed before the fix
    assert lam.invoke(FunctionName=source, Payload=b"{}")["Payload"].read() == b"1"

    lines = log_lines(logs, group, lambda ls: any(l.startswith("REPORT") for l in ls))
    assert "metric-record 42" in lines
    expected = f"FORWARDED {group} metric-record 42"
    forwarded = log_lines(logs, f"/aws/lambda/{forwarder}", lambda ls: expected in ls)
    # Community LocalStack ignores filter patterns (its matcher is a Pro feature): START,
    # END and REPORT are forwarded too, so a forwarder must filter what it receives.
    assert f"FORWARDED {group} END RequestId" in "\n".join(forwarded)
