#!/usr/bin/env bash
# deploy/install.sh sqlite|postgres — installs admit into the cluster kubectl points at.
#
#   sqlite    one replica (StatefulSet) on SQLite on a persistent volume, with continuous
#             validation: the simplest install, and the one the getting-started guide uses
#   postgres  N replicas on one PostgreSQL database (set ADMIT_DATABASE_URL) plus one
#             continuous-validation monitor
#
# Environment:
#   ADMIT_PROJECT          the project whose policy is enforced (default: my-project)
#   ADMIT_CLUSTER          this cluster as location.name, for clusterAdmissionRules (optional)
#   ADMIT_IMAGE            the admit image built from ../Dockerfile (default: the manifests')
#   ADMIT_DATABASE_URL     postgres only: the database the replicas share
#   APISERVER_CLIENT_CA    optional: the CA of the client certificate kube-apiserver presents to
#                          webhooks; only such clients may then ask for decisions
#                          (components/apiserver-client-ca)
#   ADMIT_API_TOKENS       optional: a tokens file (`TOKEN PRINCIPAL` lines); the management
#                          API is then served to the cluster behind those tokens
#                          (components/api-tokens); without it, kubectl port-forward only
#   ADMIT_RESOLVE_TAGS     optional, `1`: also register the tag-resolving mutating webhook
#                          (components/resolve-tags)
#   ADMIT_REGISTRY_CREDENTIALS  optional: a docker config.json with registry credentials for
#                          it (stored as the Secret admit-registry-credentials)
#   KUBECTL_APPLY_FLAGS    extra flags for kubectl apply (e.g. --dry-run=server)
#
# Needs kubectl and the admit binary (for `admit webhook-cert`) on PATH.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
overlay=${1:-}
case "$overlay" in
  sqlite|postgres) ;;
  *) echo "usage: $0 sqlite|postgres" >&2; exit 1 ;;
esac
if [ "$overlay" = postgres ]; then
  : "${ADMIT_DATABASE_URL:?set ADMIT_DATABASE_URL to the PostgreSQL database the replicas share}"
fi
project=${ADMIT_PROJECT:-my-project}
flags=${KUBECTL_APPLY_FLAGS:-}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# The serving certificate for admit-webhook.admit-system.svc and the caBundle to trust it.
bundle=$(admit webhook-cert --service admit-webhook --namespace admit-system --out-dir "$out" \
  | sed -n 's/^caBundle: //p')

# The overlay, with this install's settings.
mkdir "$out/k"
{
  echo "apiVersion: kustomize.config.k8s.io/v1beta1"
  echo "kind: Kustomization"
  # kustomize takes relative roots only.
  echo "resources: [$(realpath --relative-to="$out/k" "$here/overlays/$overlay")]"
  components=()
  rel() { realpath --relative-to="$out/k" "$here/components/$1"; }
  if [ -n "${APISERVER_CLIENT_CA:-}" ]; then components+=("$(rel apiserver-client-ca)"); fi
  if [ -n "${ADMIT_API_TOKENS:-}" ]; then components+=("$(rel api-tokens)"); fi
  if [ "${ADMIT_RESOLVE_TAGS:-}" = 1 ]; then components+=("$(rel resolve-tags)"); fi
  if [ "${#components[@]}" -gt 0 ]; then
    echo "components: [$(IFS=,; echo "${components[*]}")]"
  fi
  echo "patches:"
  echo "- patch: '{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {\"name\": \"admit-config\", \"namespace\": \"admit-system\"}, \"data\": {\"ADMIT_PROJECT\": \"$project\", \"ADMIT_CLUSTER\": \"${ADMIT_CLUSTER:-}\"}}'"
  echo "- target: {kind: ValidatingWebhookConfiguration, name: admit}"
  echo "  patch: '[{\"op\": \"add\", \"path\": \"/webhooks/0/clientConfig/caBundle\", \"value\": \"$bundle\"}]'"
  if [ "${ADMIT_RESOLVE_TAGS:-}" = 1 ]; then
    echo "- target: {kind: MutatingWebhookConfiguration, name: admit-resolve-tags}"
    echo "  patch: '[{\"op\": \"add\", \"path\": \"/webhooks/0/clientConfig/caBundle\", \"value\": \"$bundle\"}]'"
  fi
  if [ -n "${ADMIT_IMAGE:-}" ]; then
    echo "images:"
    echo "- {name: registry.example.com/admit/admit, newName: \"${ADMIT_IMAGE%:*}\", newTag: \"${ADMIT_IMAGE##*:}\"}"
  fi
} > "$out/k/kustomization.yaml"
kubectl kustomize "$out/k" > "$out/manifests.yaml"

# The CRDs first (and established), so nothing that names them races them.
kubectl apply $flags -f "$here/crds/kritis.yaml"
if [ -z "$flags" ]; then
  kubectl wait --for=condition=established --timeout=60s -f "$here/crds/kritis.yaml"
fi
kubectl apply $flags -f "$here/base/namespace.yaml"

# Secrets: the serving certificate, the KMS master key (made once, kept across installs), the
# database URL and the optional client CA and API tokens.
secret() { kubectl -n admit-system create "$@" --dry-run=client -o yaml | kubectl apply $flags -f -; }
secret secret tls admit-webhook-tls --cert="$out/tls.crt" --key="$out/tls.key"
if ! kubectl -n admit-system get secret admit-master-key >/dev/null 2>&1; then
  head -c 32 /dev/urandom | base64 > "$out/master.key"
  secret secret generic admit-master-key --from-file=master.key="$out/master.key"
fi
if [ "$overlay" = postgres ]; then
  secret secret generic admit-database --from-literal=url="$ADMIT_DATABASE_URL"
fi
if [ -n "${APISERVER_CLIENT_CA:-}" ]; then
  secret configmap admit-apiserver-client-ca --from-file=ca.crt="$APISERVER_CLIENT_CA"
fi
if [ -n "${ADMIT_API_TOKENS:-}" ]; then
  secret secret generic admit-api-tokens --from-file=tokens="$ADMIT_API_TOKENS"
fi
if [ -n "${ADMIT_REGISTRY_CREDENTIALS:-}" ]; then
  secret secret generic admit-registry-credentials --type=kubernetes.io/dockerconfigjson \
    --from-file=.dockerconfigjson="$ADMIT_REGISTRY_CREDENTIALS"
fi

kubectl apply $flags -f "$out/manifests.yaml"
echo "admit ($overlay) installed in namespace admit-system for project $project"
