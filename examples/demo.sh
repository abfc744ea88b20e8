#!/usr/bin/env bash
# A complete offline round trip with real keys: make a P-256 key with openssl, describe an
# attestor the way `gcloud container binauthz attestors describe --format=json` prints it,
# sign an image digest's payload, store the attestation as a Grafeas occurrence, and ask
# `admit evaluate` about a signed image, an unsigned one and a tag-only one.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q -p admit
admit=target/debug/admit
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/attestors" "$work/attestations"

openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$work/key.pem" 2>/dev/null
openssl pkey -in "$work/key.pem" -pubout -out "$work/pub.pem"
key_id="ni:///sha-256;$(openssl pkey -pubin -in "$work/pub.pem" -outform DER | openssl dgst -sha256 -binary | basenc --base64url | tr -d '=\n')"

image=us-docker.pkg.dev/demo-proj/repo/app
digest=sha256:$(printf 'demo image' | sha256sum | cut -d' ' -f1)
python3 - "$work" "$key_id" <<'PY'
import json, sys
work, key_id = sys.argv[1], sys.argv[2]
json.dump({"name": "projects/demo-proj/attestors/built-by-ci",
           "userOwnedGrafeasNote": {"noteReference": "projects/demo-proj/notes/built-by-ci",
             "publicKeys": [{"id": key_id, "pkixPublicKey": {
               "publicKeyPem": open(f"{work}/pub.pem").read(),
               "signatureAlgorithm": "ECDSA_P256_SHA256"}}]}},
          open(f"{work}/attestors/built-by-ci.json", "w"), indent=2)
PY

"$admit" create-signature-payload --artifact-url "$image@$digest" > "$work/payload.json"
openssl dgst -sha256 -sign "$work/key.pem" -out "$work/sig.der" "$work/payload.json"
python3 - "$work" "$key_id" "$image@$digest" <<'PY'
import base64, json, sys
work, key_id, url = sys.argv[1:4]
b64 = lambda p: base64.urlsafe_b64encode(open(p, "rb").read()).decode()
json.dump([{"name": "projects/demo-proj/occurrences/1", "kind": "ATTESTATION",
            "noteName": "projects/demo-proj/notes/built-by-ci", "resourceUri": url,
            "attestation": {"serializedPayload": b64(f"{work}/payload.json"),
                            "signatures": [{"publicKeyId": key_id, "signature": b64(f"{work}/sig.der")}]}}],
          open(f"{work}/attestations/list.json", "w"), indent=2)
PY

cat > "$work/policy.yaml" <<YAML
globalPolicyEvaluationMode: ENABLE
defaultAdmissionRule:
  evaluationMode: REQUIRE_ATTESTATION
  enforcementMode: ENFORCED_BLOCK_AND_AUDIT_LOG
  requireAttestationsBy:
  - projects/demo-proj/attestors/built-by-ci
YAML

"$admit" policy validate "$work/policy.yaml"
for img in "$image@$digest" "$image@sha256:$(printf other | sha256sum | cut -d' ' -f1)" "$image:latest" registry.k8s.io/pause:3.9; do
  echo; echo "\$ admit evaluate --image $img"
  set +e
  "$admit" evaluate --policy "$work/policy.yaml" --attestors "$work/attestors" \
    --attestations "$work/attestations" --image "$img"
  echo "(exit $?)"
  set -e
done
