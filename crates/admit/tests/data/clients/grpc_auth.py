"""gRPC with access control on: the bearer token travels as `authorization` metadata and IAM
decides, exactly as over REST. Prints one JSON line of what each caller got.

ADMIT_GRPC is host:port; OWNER and NOBODY are tokens of the server's --token-file.
"""
import json
import os

import grpc
from google.cloud import binaryauthorization_v1 as ba
from google.rpc import status_pb2

channel = grpc.insecure_channel(os.environ["ADMIT_GRPC"])
client = ba.BinauthzManagementServiceV1Client(
    transport=ba.BinauthzManagementServiceV1Client.get_transport_class("grpc")(channel=channel))
name = "projects/grpc-proj/policy"
out = {}
for who, token in [("owner", os.environ["OWNER"]), ("nobody", os.environ["NOBODY"]), ("anonymous", None)]:
    metadata = [("authorization", f"Bearer {token}")] if token else []
    try:
        p = client.get_policy(name=name, metadata=metadata)
        out[who] = {"ok": p.name}
    except Exception as e:  # google.api_core.exceptions.GoogleAPICallError
        details = []
        for md in getattr(e.response, "trailing_metadata", lambda: [])() or []:
            if md[0] == "grpc-status-details-bin":
                s = status_pb2.Status.FromString(md[1])
                details.append({"code": s.code, "message": s.message})
        out[who] = {"code": e.grpc_status_code.name if e.grpc_status_code else str(e.code),
                    "message": e.message, "details": details}
print(json.dumps(out))
