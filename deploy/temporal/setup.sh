#!/bin/sh
# One-shot setup of the team set-up's Temporal namespace, run by the
# temporal-setup service of docker-compose.yml once the frontend answers
# (and by test/compose_test.go against a dev server). Idempotent: every run
# sets the retention again and registers the search attributes that are
# missing, so changing RUNBOOK_RETENTION and running
#   docker compose up -d temporal-setup
# applies it to a namespace made before.
#
#   TEMPORAL_ADDRESS    frontend host:port        (default temporal:7233)
#   TEMPORAL_NAMESPACE  the namespace runbook uses (default default)
#   RUNBOOK_RETENTION   how long closed releases stay readable (default 90d):
#                       runbook list, runbook metrics dora and runbook report
#                       dora see no further back than this
set -eu

address=${TEMPORAL_ADDRESS:-temporal:7233}
namespace=${TEMPORAL_NAMESPACE:-default}
retention=${RUNBOOK_RETENTION:-90d}
# workflows.SearchAttributeNames, all Keyword; runbook doctor checks the same list.
attributes="RunbookService RunbookEnvironment RunbookVersion RunbookStep RunbookStatus RunbookBreakGlass RunbookRisk"

# auto-setup starts the frontend before it creates the namespace
# (DEFAULT_NAMESPACE), so wait for both, for at most about five minutes.
tries=0
until temporal operator cluster health --address "$address" >/dev/null 2>&1 &&
	temporal operator namespace describe --address "$address" --namespace "$namespace" >/dev/null 2>&1; do
	tries=$((tries + 1))
	if [ "$tries" -ge 150 ]; then
		echo "temporal-setup: no namespace $namespace at $address after 5 minutes; see: docker compose logs temporal" >&2
		exit 1
	fi
	sleep 2
done

temporal operator namespace update --address "$address" --namespace "$namespace" --retention "$retention"

# One attribute a call: temporal CLI 1.5 given several --name registers only
# the first. Registering one that exists with the same type succeeds; with
# another type it fails, and so does this script: runbook doctor says how to
# fix it.
for a in $attributes; do
	temporal operator search-attribute create --address "$address" --namespace "$namespace" --name "$a" --type Keyword
done

echo "temporal-setup: namespace $namespace keeps closed workflows for $retention; runbook's search attributes are registered"
