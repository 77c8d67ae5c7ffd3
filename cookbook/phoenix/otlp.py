"""Traces sent by hand over OTLP/HTTP: spans with the ids and times we choose.

The OpenTelemetry SDK makes spans while code runs, with random ids and the clock's time. The cookbook's
traces are made afterwards, from records (the gateway's transcript, a result row), and must come out the
same every time they are made: their ids are derived from a seed. So the experiment run that points at a
trace can be logged after the trace was sent, and sending a trace twice stores it once (Phoenix keeps the
first span of an id and ignores the copy).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import httpx
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status

PROJECT_ATTRIBUTE = "openinference.project.name"  # the resource attribute Phoenix files spans under
Value = str | int | float | bool


@dataclass
class SpanRecord:
    """One span: OpenInference `kind` (AGENT, LLM, CHAIN ...), times in epoch seconds, flat attributes
    (dotted keys, as OpenInference writes them), `error` for an ERROR status, and its parent's index in
    the trace (None for the root)."""

    name: str
    kind: str
    start: float
    end: float
    attributes: dict[str, Value] = field(default_factory=dict)
    error: str = ""
    parent: int | None = 0


@dataclass
class TraceRecord:
    """A trace: its spans (the first is the root) and the seed its ids come from."""

    seed: str
    spans: list[SpanRecord]

    @property
    def trace_id(self) -> str:
        """The trace id as Phoenix stores it (32 hex digits)."""
        return _id(self.seed, 16).hex()


def _id(seed: str, size: int) -> bytes:
    digest = hashlib.sha256(seed.encode()).digest()[:size]
    return digest if any(digest) else b"\x01" + digest[1:]  # an all-zero id is invalid in OTLP


def _value(value: Value) -> AnyValue:
    if isinstance(value, bool):  # before int: bool is an int
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    return AnyValue(string_value=str(value))


def _span(trace: TraceRecord, index: int) -> Span:
    record = trace.spans[index]
    attributes = {"openinference.span.kind": record.kind, **record.attributes}
    span = Span(
        trace_id=_id(trace.seed, 16),
        span_id=_id(f"{trace.seed}/{index}", 8),
        name=record.name,
        kind=Span.SPAN_KIND_INTERNAL,
        start_time_unix_nano=int(record.start * 1e9),
        end_time_unix_nano=int(max(record.end, record.start) * 1e9),
        attributes=[KeyValue(key=key, value=_value(value)) for key, value in attributes.items()],
        status=Status(code=Status.STATUS_CODE_ERROR, message=record.error)
        if record.error
        else Status(code=Status.STATUS_CODE_OK),
    )
    if index and record.parent is not None:
        span.parent_span_id = _id(f"{trace.seed}/{record.parent}", 8)
    return span


def encode(project: str, traces: list[TraceRecord]) -> bytes:
    """The OTLP export request (protobuf) that files these traces under the Phoenix project `project`."""
    spans = [_span(trace, i) for trace in traces for i in range(len(trace.spans))]
    resource = Resource(attributes=[KeyValue(key=PROJECT_ATTRIBUTE, value=AnyValue(string_value=project))])
    request = ExportTraceServiceRequest(
        resource_spans=[ResourceSpans(resource=resource, scope_spans=[ScopeSpans(spans=spans)])]
    )
    return request.SerializeToString()


def send(http: httpx.Client, project: str, traces: list[TraceRecord], per_request: int = 50) -> None:
    """Send the traces to Phoenix's OTLP endpoint (`/v1/traces`), `per_request` traces per request.
    Phoenix accepts them and stores them shortly after, asynchronously."""
    for start in range(0, len(traces), per_request):
        reply = http.post(
            "v1/traces",
            content=encode(project, traces[start : start + per_request]),
            headers={"content-type": "application/x-protobuf"},
        )
        reply.raise_for_status()
