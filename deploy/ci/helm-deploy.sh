#!/usr/bin/env bash
# Deploy one Finks environment to EKS: the dagster/dagster system chart (release `dagster`), the
# Finks code location (release `finks-code`, chart dagster/dagster-user-deployments) and the data
# API manifests. Used by .github/workflows/deploy.yml and by hand (docs/deploy.md).
#
# Every input is an environment variable, so nothing from the workflow is pasted into shell code:
#   FINKS_ENV_NAME          staging | prod (selects the values-<env>.yaml files and API overlay)
#   IMAGE                   <registry>/<repository>:<tag>, the image built for this commit
#   EKS_CLUSTER             EKS cluster name (AWS credentials and AWS_REGION already configured)
#   DAGSTER_ROLE_ARN        IRSA role of the webserver/daemon     (pulumi stack output dagster_role_arn)
#   CODE_LOCATION_ROLE_ARN  IRSA role of the code location + runs (pulumi stack output code_location_role_arn)
#   API_ROLE_ARN            IRSA role of the data API             (pulumi stack output api_role_arn)
#   NAMESPACE               default: finks
#   DAGSTER_CHART_VERSION   default: 1.13.27 (keep equal to dagster in uv.lock)
set -euo pipefail

: "${FINKS_ENV_NAME:?set FINKS_ENV_NAME to staging or prod}"
: "${IMAGE:?set IMAGE to <registry>/<repository>:<tag>}"
: "${EKS_CLUSTER:?set EKS_CLUSTER}"
: "${DAGSTER_ROLE_ARN:?set DAGSTER_ROLE_ARN}"
: "${CODE_LOCATION_ROLE_ARN:?set CODE_LOCATION_ROLE_ARN}"
: "${API_ROLE_ARN:?set API_ROLE_ARN}"
case "$FINKS_ENV_NAME" in
  staging | prod) ;;
  *) echo "FINKS_ENV_NAME must be staging or prod, not '$FINKS_ENV_NAME'" >&2; exit 2 ;;
esac
namespace="${NAMESPACE:-finks}"
chart_version="${DAGSTER_CHART_VERSION:-1.13.27}"
image_repository="${IMAGE%:*}"
image_tag="${IMAGE##*:}"
cd "$(dirname "$0")/../.."

aws eks update-kubeconfig --name "$EKS_CLUSTER" --alias "finks-$FINKS_ENV_NAME"
helm repo add dagster https://dagster-io.github.io/helm --force-update
helm repo update dagster

# System components first: they own the instance ConfigMap (`dagster-instance`) that run pods load.
helm upgrade --install dagster dagster/dagster \
  --version "$chart_version" --namespace "$namespace" --create-namespace \
  -f deploy/helm/dagster/values.yaml \
  -f "deploy/helm/dagster/values-$FINKS_ENV_NAME.yaml" \
  --set-string "serviceAccount.annotations.eks\.amazonaws\.com/role-arn=$DAGSTER_ROLE_ARN" \
  --wait --timeout 10m

helm upgrade --install finks-code dagster/dagster-user-deployments \
  --version "$chart_version" --namespace "$namespace" \
  -f deploy/helm/user-deployments/values.yaml \
  -f "deploy/helm/user-deployments/values-$FINKS_ENV_NAME.yaml" \
  --set-string "deployments[0].image.repository=$image_repository" \
  --set-string "deployments[0].image.tag=$image_tag" \
  --set-string "serviceAccount.annotations.eks\.amazonaws\.com/role-arn=$CODE_LOCATION_ROLE_ARN" \
  --wait --timeout 10m

# The overlay carries placeholders for the image and the IRSA role; substitute them in the
# rendered manifests so a single apply rolls out the right image with the right identity.
kubectl kustomize "deploy/k8s/finks-api/overlays/$FINKS_ENV_NAME" \
  | sed -e "s#image: finks:dev#image: $IMAGE#" \
        -e "s#arn:aws:iam::000000000000:role/finks-$FINKS_ENV_NAME-api#$API_ROLE_ARN#" \
  | kubectl --namespace "$namespace" apply -f -
kubectl --namespace "$namespace" rollout status deployment/finks-api --timeout 5m
echo "Finks $FINKS_ENV_NAME now runs $IMAGE"
