#!/usr/bin/env bash
# The tools the deployment tests run against, installed only when missing:
#   promtool        Debian's prometheus (samples/monitoring: check and test the rules)
#   pushgateway     Debian's prometheus-pushgateway (internal/report, samples/monitoring)
#   setpriv         Debian's util-linux (samples/k8s: read the credentials as uid 65532)
#   helm            helm.sh/helm/v4 from the Go module proxy (samples/k8s: lint, template)
# helm goes to $(go env GOBIN), else $(go env GOPATH)/bin, where the
# samples/k8s test looks for it. Building it takes about 8 minutes on this
# machine's 2 cores (4 of CPU time); a machine that keeps its Go build cache
# rebuilds nothing when the version is the same.
set -euo pipefail

HELM_VERSION=v4.3.2

packages=()
command -v promtool >/dev/null 2>&1 || packages+=(prometheus)
[ -x /usr/bin/prometheus-pushgateway ] || packages+=(prometheus-pushgateway)
command -v setpriv >/dev/null 2>&1 || packages+=(util-linux)
if [ ${#packages[@]} -gt 0 ]; then
	start=$SECONDS
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
	echo "deploy-tools: apt-get install ${packages[*]}: $((SECONDS - start)) s"
fi

gobin=$(go env GOBIN)
[ -n "$gobin" ] || gobin=$(go env GOPATH | cut -d: -f1)/bin
have=$(go version -m "$gobin/helm" 2>/dev/null | awk '$1 == "mod" && $2 == "helm.sh/helm/v4" {print $3}' || true)
if [ "$have" != "$HELM_VERSION" ]; then
	start=$SECONDS
	GOBIN="$gobin" go install "helm.sh/helm/v4/cmd/helm@$HELM_VERSION"
	echo "deploy-tools: go install helm $HELM_VERSION: $((SECONDS - start)) s"
fi
echo "deploy-tools: $(promtool --version 2>&1 | head -1); pushgateway $(/usr/bin/prometheus-pushgateway --version 2>&1 | head -1 | awk '{print $3}'); helm $HELM_VERSION"
