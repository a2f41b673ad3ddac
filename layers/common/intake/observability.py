"""The one Logger, Tracer and Metrics of the service; every handler and logic module uses these."""

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
tracer = Tracer()
metrics = Metrics()
