#!/usr/bin/env bash
# Creates the serving certificate and caBundle with `admit webhook-cert`, then applies the
# manifests. Needs kubectl pointed at the cluster, the admit binary on PATH and
# ADMIT_DATABASE_URL (the PostgreSQL database the replicas share) and APISERVER_CLIENT_CA (the
# PEM CA that issued the client certificate kube-apiserver presents to webhooks; see the
# comment at the top of deployment.yaml).
set -euo pipefail
cd "$(dirname "$0")"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
bundle=$(admit webhook-cert --service admit-webhook --namespace admit-system --out-dir "$out" | sed -n 's/^caBundle: //p')
kubectl apply -f namespace.yaml
kubectl -n admit-system create secret tls admit-webhook-tls --cert="$out/tls.crt" --key="$out/tls.key" \
  --dry-run=client -o yaml | kubectl apply -f -
if ! kubectl -n admit-system get secret admit-master-key >/dev/null 2>&1; then
  head -c 32 /dev/urandom | base64 > "$out/master.key"
  kubectl -n admit-system create secret generic admit-master-key --from-file=master.key="$out/master.key"
fi
: "${ADMIT_DATABASE_URL:?set ADMIT_DATABASE_URL to the PostgreSQL database the replicas share}"
kubectl -n admit-system create secret generic admit-database --from-literal=url="$ADMIT_DATABASE_URL" \
  --dry-run=client -o yaml | kubectl apply -f -
: "${APISERVER_CLIENT_CA:?set APISERVER_CLIENT_CA to the CA of the API server's webhook client certificate}"
kubectl -n admit-system create configmap admit-apiserver-client-ca --from-file=ca.crt="$APISERVER_CLIENT_CA" \
  --dry-run=client -o yaml | kubectl apply -f -
kubectl apply -f crds/kritis.yaml
kubectl wait --for=condition=established --timeout=60s -f crds/kritis.yaml
kubectl apply -f deployment.yaml -f rbac.yaml -f service.yaml
sed "s|CA_BUNDLE|$bundle|" webhook.yaml | kubectl apply -f -
