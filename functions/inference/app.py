"""Inference Lambda: ``POST /predict`` and ``GET /health`` behind API Gateway (REST).

Thin by design: routing, logging and metrics here; the work is
``modelobs.serving``. The detector and the S3 client are built once per
execution environment (the init phase), so warm requests pay only for
inference.
"""

from __future__ import annotations

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from modelobs.config import load_settings
from modelobs.detector import Detector
from modelobs.errors import InvalidImageError
from modelobs.keys import day
from modelobs.serving import PredictService, response_body
from modelobs.upload import MalformedRequestError, event_body, header

logger = Logger()
metrics = Metrics()
app = APIGatewayRestResolver()

settings = load_settings()
detector = Detector.from_settings(settings)
service = PredictService(detector, boto3.client("s3"), settings)


@app.post("/predict")
def predict() -> dict:
    event = app.current_event
    capture = service.predict(
        event_body(event.raw_event), header(event.headers, "content-type"), header(event.headers, "x-capture-time")
    )
    prediction = capture.prediction
    confident = prediction.confident()
    metrics.add_dimension(name="ModelVersion", value=detector.card.version)
    metrics.add_metric(name="Latency", unit=MetricUnit.Milliseconds, value=prediction.timings_ms["total_ms"])
    metrics.add_metric(name="Detections", unit=MetricUnit.Count, value=len(confident))
    metrics.add_metric(name="MaxScore", unit=MetricUnit.NoUnit, value=max((d.score for d in prediction.detections), default=0.0))
    logger.info("prediction", extra={
        "capture_id": capture.id, "prediction_ts": capture.record["ts"], "prediction_day": day(capture.ts),
        "model": capture.record["model"], "detections": len(confident), "timings_ms": prediction.timings_ms,
    })
    return response_body(capture)


@app.get("/health")
def health() -> dict:
    card = detector.card
    return {"status": "ok", "model": {"name": card.name, "version": card.version, "sha256": card.sha256,
                                      "quantization": card.quantization}}


@app.exception_handler(InvalidImageError)
def invalid_image(exc: InvalidImageError) -> Response:
    logger.info("rejected image", extra={"reason": exc.code})
    metrics.add_metric(name="Rejected", unit=MetricUnit.Count, value=1)
    return Response(status_code=exc.status, content_type=content_types.APPLICATION_JSON, body=exc.to_dict())


@app.exception_handler(MalformedRequestError)
def malformed(exc: MalformedRequestError) -> Response:
    return Response(status_code=exc.status, content_type=content_types.APPLICATION_JSON, body=exc.to_dict())


@app.exception_handler(Exception)
def internal_error(exc: Exception) -> Response:
    """Anything else is ours, not the caller's: log it whole, answer 500 without internals."""
    logger.exception("predict failed")
    return Response(
        status_code=500,
        content_type=content_types.APPLICATION_JSON,
        body={"error": "internal_error", "message": "The request failed on our side and nothing was kept; retry it."},
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict, context) -> dict:
    return app.resolve(event, context)
