"""An OTLP/gRPC receiver for tests: oteltest's otelsink (PyPI `oteltest`, by an OpenTelemetry
Python maintainer), whose servicers decode each Export request with the official
`opentelemetry-proto` messages. Two adjustments, both to where it listens, none to what it
receives: it binds 127.0.0.1 on a port the OS picks (otelsink binds 0.0.0.0:4317), and with
`--tls-cert/--tls-key` that port speaks TLS.

Prints `otlp sink listening on 127.0.0.1:PORT`, then one JSON line per Export request:
{"signal": "traces"|"metrics"|"logs", "pbreq": <the request as proto3 JSON>, "headers": {...}}.
"""

import argparse
import json
import logging

import grpc
from oteltest.sink import GrpcSink
from oteltest.sink.handler import RequestHandler
from oteltest.telemetry import Request

parser = argparse.ArgumentParser()
parser.add_argument("--tls-cert")
parser.add_argument("--tls-key")
args = parser.parse_args()

credentials = None
if args.tls_cert:
    with open(args.tls_key, "rb") as k, open(args.tls_cert, "rb") as c:
        credentials = grpc.ssl_server_credentials([(k.read(), c.read())])

bound = {}
real_server = grpc.server


class Listener:
    """grpc.Server, listening where the test wants."""

    def __init__(self, server):
        self.server = server

    def __getattr__(self, name):
        return getattr(self.server, name)

    def add_insecure_port(self, _address):
        if credentials is None:
            bound["port"] = self.server.add_insecure_port("127.0.0.1:0")
        else:
            bound["port"] = self.server.add_secure_port("127.0.0.1:0", credentials)
        return bound["port"]


grpc.server = lambda *a, **kw: Listener(real_server(*a, **kw))


class Printer(RequestHandler):
    def emit(self, signal, request, headers):
        line = Request(request, headers, 0).to_dict()
        line["signal"] = signal
        del line["test_elapsed_ms"]
        print(json.dumps(line), flush=True)

    def handle_trace(self, request, headers):
        self.emit("traces", request, headers)

    def handle_metrics(self, request, headers):
        self.emit("metrics", request, headers)

    def handle_logs(self, request, headers):
        self.emit("logs", request, headers)


sink = GrpcSink(Printer(), logging.getLogger("otelsink"), port=0)
sink.start()
print(f"otlp sink listening on 127.0.0.1:{bound['port']}", flush=True)
sink.wait_for_termination()
