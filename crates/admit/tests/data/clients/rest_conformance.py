"""Google's own Python client libraries (anonymous credentials) against admit, in the REST
transport (ADMIT_TRANSPORT=rest, ADMIT_ENDPOINT the API's URL) or in the libraries' default gRPC
transport (ADMIT_TRANSPORT=grpc, ADMIT_GRPC host:port of `admit serve --grpc-listen`).

Run by crates/admit/tests/client_libraries.rs. Every call checks what
came back; any mismatch or unexpected error raises, and the process exits non-zero.
The libraries send enums as numbers (`$alt=json;enum-encoding=int`), which admit must accept.
"""
import hashlib

import google_crc32c
import os
import sys

from google.api_core import exceptions
from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import binaryauthorization_v1 as ba
from google.cloud import kms_v1
from google.iam.v1 import iam_policy_pb2, policy_pb2
from grafeas import grafeas_v1
from grafeas.grafeas_v1.services.grafeas.transports import GrafeasRestTransport

ENDPOINT = os.environ["ADMIT_ENDPOINT"]
TRANSPORT = os.environ.get("ADMIT_TRANSPORT", "rest")
P = "client-proj"
creds = AnonymousCredentials()
opts = ClientOptions(api_endpoint=ENDPOINT)
checks = 0

if TRANSPORT == "grpc":
    import grpc

    CHANNEL = grpc.insecure_channel(os.environ["ADMIT_GRPC"])

    def client(cls):
        return cls(transport=cls.get_transport_class("grpc")(channel=CHANNEL))

    def grafeas_client():
        return client(grafeas_v1.GrafeasClient)
else:
    def client(cls):
        return cls(credentials=creds, transport="rest", client_options=opts)

    def grafeas_client():
        return grafeas_v1.GrafeasClient(transport=GrafeasRestTransport(host=ENDPOINT, credentials=creds))


def check(cond, what):
    global checks
    checks += 1
    if not cond:
        raise AssertionError(what)


# Binary Authorization: policy (enums as numbers), attestors, IAM, system policy.
mgmt = client(ba.BinauthzManagementServiceV1Client)
policy = mgmt.get_policy(name=f"projects/{P}/policy")
check(policy.default_admission_rule.evaluation_mode == ba.AdmissionRule.EvaluationMode.ALWAYS_ALLOW,
      "the default policy allows")
updated = mgmt.update_policy(policy=ba.Policy(
    name=f"projects/{P}/policy",
    global_policy_evaluation_mode=ba.Policy.GlobalPolicyEvaluationMode.ENABLE,
    default_admission_rule=ba.AdmissionRule(
        evaluation_mode=ba.AdmissionRule.EvaluationMode.ALWAYS_DENY,
        enforcement_mode=ba.AdmissionRule.EnforcementMode.DRYRUN_AUDIT_LOG_ONLY),
    kubernetes_namespace_admission_rules={"prod": ba.AdmissionRule(
        evaluation_mode=ba.AdmissionRule.EvaluationMode.ALWAYS_ALLOW,
        enforcement_mode=ba.AdmissionRule.EnforcementMode.ENFORCED_BLOCK_AND_AUDIT_LOG)},
))
check(updated.default_admission_rule.enforcement_mode == ba.AdmissionRule.EnforcementMode.DRYRUN_AUDIT_LOG_ONLY,
      f"enforcement mode stored from its number: {updated}")
check(updated.etag != "", "policy etag")
again = mgmt.get_policy(name=f"projects/{P}/policy")
check(again.kubernetes_namespace_admission_rules["prod"].evaluation_mode == ba.AdmissionRule.EvaluationMode.ALWAYS_ALLOW,
      "namespace rule read back")

graf = grafeas_client()
graf.create_note(parent=f"projects/{P}", note_id="qa", note=grafeas_v1.Note(
    attestation=grafeas_v1.AttestationNote(hint=grafeas_v1.AttestationNote.Hint(human_readable_name="QA"))))
attestor = mgmt.create_attestor(parent=f"projects/{P}", attestor_id="qa", attestor=ba.Attestor(
    name=f"projects/{P}/attestors/qa",
    user_owned_grafeas_note=ba.UserOwnedGrafeasNote(note_reference=f"projects/{P}/notes/qa")))
check(attestor.user_owned_grafeas_note.delegation_service_account_email.endswith(
    "@gcp-sa-binaryauthorization.iam.gserviceaccount.com"), "delegation email is the service agent")
names = [a.name for a in mgmt.list_attestors(parent=f"projects/{P}")]
check(names == [f"projects/{P}/attestors/qa"], f"attestors listed: {names}")
try:
    mgmt.get_attestor(name=f"projects/{P}/attestors/missing")
    check(False, "a missing attestor is NotFound")
except exceptions.NotFound:
    check(True, "")
try:
    mgmt.create_attestor(parent=f"projects/{P}", attestor_id="qa", attestor=attestor)
    check(False, "a second create is AlreadyExists")
except exceptions.Conflict:
    check(True, "")
iam = mgmt.set_iam_policy(request=iam_policy_pb2.SetIamPolicyRequest(
    resource=f"projects/{P}/attestors/qa",
    policy=policy_pb2.Policy(bindings=[policy_pb2.Binding(
        role="roles/binaryauthorization.attestorsViewer", members=["user:viewer@example.com"])])))
check(iam.bindings[0].members == ["user:viewer@example.com"], "attestor IAM set")
got = mgmt.get_iam_policy(request=iam_policy_pb2.GetIamPolicyRequest(resource=f"projects/{P}/attestors/qa"))
check(got.etag == iam.etag, "attestor IAM read back")
held = mgmt.test_iam_permissions(request=iam_policy_pb2.TestIamPermissionsRequest(
    resource=f"projects/{P}/attestors/qa", permissions=["binaryauthorization.attestors.get"]))
check(list(held.permissions) == ["binaryauthorization.attestors.get"], "permissions held (access control off)")
system = client(ba.SystemPolicyV1Client)
sp = system.get_system_policy(name="locations/global/policy")
check(any(p.name_pattern.startswith("registry.k8s.io") for p in sp.admission_whitelist_patterns),
      "system policy patterns")

# Grafeas v1: occurrences with the kind as a number, filters, paging, update masks, delete.
uri = "https://gcr.io/client-proj/app@sha256:" + "1" * 64
made = graf.batch_create_occurrences(parent=f"projects/{P}", occurrences=[
    grafeas_v1.Occurrence(resource_uri=uri, note_name=f"projects/{P}/notes/qa",
                          attestation=grafeas_v1.AttestationOccurrence(
                              serialized_payload=b"{}",
                              signatures=[grafeas_v1.Signature(signature=b"s%d" % i, public_key_id="k")]))
    for i in range(3)])
check(len(made.occurrences) == 3 and all(o.kind == grafeas_v1.NoteKind.ATTESTATION for o in made.occurrences),
      "batch created, kind derived")
listed = list(graf.list_occurrences(request=grafeas_v1.ListOccurrencesRequest(
    parent=f"projects/{P}", filter=f'resourceUrl="{uri}"', page_size=2)))
check(len(listed) == 3, f"paged through every occurrence: {len(listed)}")
occ = made.occurrences[0]
patched = graf.update_occurrence(name=occ.name, occurrence=grafeas_v1.Occurrence(remediation="re-sign"),
                                 update_mask={"paths": ["remediation"]})
check(patched.remediation == "re-sign" and patched.attestation.signatures[0].signature == b"s0",
      "update mask applied, the rest kept")
note = graf.get_occurrence_note(name=occ.name)
check(note.attestation.hint.human_readable_name == "QA", "the occurrence's note")
graf.delete_occurrence(name=occ.name)
try:
    graf.get_occurrence(name=occ.name)
    check(False, "a deleted occurrence is NotFound")
except exceptions.NotFound:
    check(True, "")

# A vulnerability and a discovery occurrence: their enums arrive as numbers; admit stores names
# (the Rust test reads them back raw).
graf.create_note(parent=f"projects/{P}", note_id="CVE-2099-1", note=grafeas_v1.Note(
    vulnerability=grafeas_v1.VulnerabilityNote(severity=grafeas_v1.Severity.HIGH)))
vuln = graf.create_occurrence(parent=f"projects/{P}", occurrence=grafeas_v1.Occurrence(
    resource_uri=uri, note_name=f"projects/{P}/notes/CVE-2099-1",
    vulnerability=grafeas_v1.VulnerabilityOccurrence(
        severity=grafeas_v1.Severity.HIGH, effective_severity=grafeas_v1.Severity.CRITICAL,
        package_issue=[grafeas_v1.VulnerabilityOccurrence.PackageIssue(
            affected_cpe_uri="cpe:/o:debian:debian_linux:12", affected_package="libc6",
            effective_severity=grafeas_v1.Severity.MEDIUM)])))
check(vuln.vulnerability.effective_severity == grafeas_v1.Severity.CRITICAL, "severity kept")

# Cloud KMS: purpose and algorithm as numbers, sign, checksums, public key.
kms = client(kms_v1.KeyManagementServiceClient)
kms.create_key_ring(parent=f"projects/{P}/locations/global", key_ring_id="ring", key_ring={})
key = kms.create_crypto_key(parent=f"projects/{P}/locations/global/keyRings/ring", crypto_key_id="signer",
                            crypto_key=kms_v1.CryptoKey(
                                purpose=kms_v1.CryptoKey.CryptoKeyPurpose.ASYMMETRIC_SIGN,
                                version_template=kms_v1.CryptoKeyVersionTemplate(
                                    algorithm=kms_v1.CryptoKeyVersion.CryptoKeyVersionAlgorithm.EC_SIGN_P256_SHA256)))
check(key.purpose == kms_v1.CryptoKey.CryptoKeyPurpose.ASYMMETRIC_SIGN, "key purpose")
version = f"{key.name}/cryptoKeyVersions/1"
digest = hashlib.sha256(b"admit").digest()
signed = kms.asymmetric_sign(request=kms_v1.AsymmetricSignRequest(
    name=version, digest=kms_v1.Digest(sha256=digest), digest_crc32c=google_crc32c.value(digest)))
check(signed.verified_digest_crc32c, "digest checksum verified")
check(signed.signature_crc32c == google_crc32c.value(signed.signature), "signature checksum")
pub = kms.get_public_key(name=version)
check(pub.pem.startswith("-----BEGIN PUBLIC KEY-----") and pub.pem_crc32c == google_crc32c.value(pub.pem.encode()),
      "public key and its checksum")
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils
# Raises InvalidSignature if the signature does not verify with the public key.
serialization.load_pem_public_key(pub.pem.encode()).verify(
    signed.signature, digest, ec.ECDSA(utils.Prehashed(hashes.SHA256())))
check(True, "")
disabled = kms.update_crypto_key_version(
    crypto_key_version=kms_v1.CryptoKeyVersion(name=version, state=kms_v1.CryptoKeyVersion.CryptoKeyVersionState.DISABLED),
    update_mask={"paths": ["state"]})
check(disabled.state == kms_v1.CryptoKeyVersion.CryptoKeyVersionState.DISABLED, "version disabled by number")
try:
    kms.asymmetric_sign(name=version, digest=kms_v1.Digest(sha256=digest))
    check(False, "a disabled version does not sign")
except exceptions.BadRequest:
    check(True, "")

# More of each API: the v1beta1 track, notes with update masks and IAM, the validation
# helper, KMS listings and IAM.
from google.cloud import binaryauthorization_v1beta1 as ba_beta

beta = client(ba_beta.BinauthzManagementServiceV1Beta1Client)
bp = beta.get_policy(name=f"projects/{P}/policy")
check(bp.default_admission_rule.evaluation_mode == ba_beta.AdmissionRule.EvaluationMode.ALWAYS_DENY,
      "the same policy through v1beta1")
ba_att = beta.get_attestor(name=f"projects/{P}/attestors/qa")
check(ba_att.user_owned_drydock_note.note_reference == f"projects/{P}/notes/qa",
      "v1beta1 names the note field userOwnedDrydockNote")
notes = list(graf.list_notes(parent=f"projects/{P}"))
check({n.name for n in notes} >= {f"projects/{P}/notes/qa", f"projects/{P}/notes/CVE-2099-1"}, "notes listed")
renamed = graf.update_note(name=f"projects/{P}/notes/qa", note=grafeas_v1.Note(short_description="QA gate"),
                           update_mask={"paths": ["short_description"]})
check(renamed.short_description == "QA gate" and renamed.attestation.hint.human_readable_name == "QA",
      "note update mask in proto field names")
from google.cloud.devtools import containeranalysis_v1

ca = client(containeranalysis_v1.ContainerAnalysisClient)
note_iam = ca.set_iam_policy(request=iam_policy_pb2.SetIamPolicyRequest(
    resource=f"projects/{P}/notes/qa", policy=policy_pb2.Policy(bindings=[policy_pb2.Binding(
        role="roles/containeranalysis.notes.occurrences.viewer",
        members=[f"serviceAccount:service-1@gcp-sa-binaryauthorization.iam.gserviceaccount.com"])])))
check(len(note_iam.bindings) == 1, "note IAM set")
of_note = list(graf.list_note_occurrences(name=f"projects/{P}/notes/qa"))
check(len(of_note) == 2, f"the note's occurrences (3 made, 1 deleted): {len(of_note)}")
helper = client(ba.ValidationHelperV1Client)
verdict = helper.validate_attestation_occurrence(request=ba.ValidateAttestationOccurrenceRequest(
    attestor=f"projects/{P}/attestors/qa",
    attestation=grafeas_v1.AttestationOccurrence(serialized_payload=b"{}",
                                                 signatures=[grafeas_v1.Signature(signature=b"x", public_key_id="k")]),
    occurrence_note=f"projects/{P}/notes/qa", occurrence_resource_uri=uri))
check(verdict.result == ba.ValidateAttestationOccurrenceResponse.Result.ATTESTATION_NOT_VERIFIABLE,
      f"an attestation by no key of the attestor does not verify: {verdict}")
rings = list(kms.list_key_rings(parent=f"projects/{P}/locations/global"))
check([r.name for r in rings] == [f"projects/{P}/locations/global/keyRings/ring"], "key rings listed")
keys = list(kms.list_crypto_keys(parent=rings[0].name))
check([k.name for k in keys] == [key.name], "keys listed")
versions = list(kms.list_crypto_key_versions(parent=key.name))
check(len(versions) == 1 and versions[0].state == kms_v1.CryptoKeyVersion.CryptoKeyVersionState.DISABLED,
      "versions listed with their state")
key_iam = kms.set_iam_policy(request=iam_policy_pb2.SetIamPolicyRequest(
    resource=key.name, policy=policy_pb2.Policy(bindings=[policy_pb2.Binding(
        role="roles/cloudkms.signerVerifier", members=["serviceAccount:ci@client-proj.iam.gserviceaccount.com"])])))
check(kms.get_iam_policy(request=iam_policy_pb2.GetIamPolicyRequest(resource=key.name)).etag == key_iam.etag,
      "key IAM read back")
scheduled = kms.destroy_crypto_key_version(name=version)
check(scheduled.state == kms_v1.CryptoKeyVersion.CryptoKeyVersionState.DESTROY_SCHEDULED
      and scheduled.destroy_time.timestamp() > 0, "destroy scheduled")
restored = kms.restore_crypto_key_version(name=version)
check(restored.state == kms_v1.CryptoKeyVersion.CryptoKeyVersionState.DISABLED, "restored")
mgmt.delete_attestor(name=f"projects/{P}/attestors/qa")
check([a.name for a in mgmt.list_attestors(parent=f"projects/{P}")] == [], "attestor deleted")

print(f"client libraries: {checks} checks passed")
