package temporalserver

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"

	"gopkg.in/yaml.v3"
)

// Databases are the two databases the server keeps: workflow state and
// visibility (the list/count queries the CLI and the Web UI ask).
const (
	DefaultDB    = "temporal"
	VisibilityDB = "temporal_visibility"
)

// HistoryShards is the server's shard count: a few, so work is spread over
// shards as in production, and start-up stays quick.
const HistoryShards = 4

// Ports are the listening ports of the four services in one process: gRPC
// and membership (ringpop) each, and the frontend's HTTP API.
type Ports struct {
	Frontend, FrontendMembership, FrontendHTTP int
	History, HistoryMembership                 int
	Matching, MatchingMembership               int
	Worker, WorkerMembership                   int
}

// freePorts picks every port anew on 127.0.0.1: the gRPC and HTTP ports
// from free, the membership ports from low. The server stores a membership
// port in a PostgreSQL smallint, so it must be below 32768, where the
// kernel's ephemeral ports (what free gets) do not go.
func freePorts(free, low func() (int, error)) (Ports, error) {
	var p Ports
	for _, port := range []struct {
		dst  *int
		pick func() (int, error)
	}{
		{&p.Frontend, free}, {&p.FrontendHTTP, free}, {&p.History, free}, {&p.Matching, free}, {&p.Worker, free},
		{&p.FrontendMembership, low}, {&p.HistoryMembership, low}, {&p.MatchingMembership, low}, {&p.WorkerMembership, low},
	} {
		n, err := port.pick()
		if err != nil {
			return p, err
		}
		*port.dst = n
	}
	return p, nil
}

// Membership ports are drawn from [lowPortMin, lowPortMax].
const (
	lowPortMin = 20000
	lowPortMax = 32767
)

// lowFreePort draws ports below the ephemeral range until one is free on
// 127.0.0.1 now; another process may still take it before the server binds
// it, which Start answers with a new attempt.
func lowFreePort() (int, error) {
	var err error
	for range 50 {
		port := lowPortMin + rand.IntN(lowPortMax-lowPortMin+1)
		var l net.Listener
		if l, err = net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			return port, l.Close()
		}
	}
	return 0, fmt.Errorf("no free port in %d-%d: %w", lowPortMin, lowPortMax, err)
}

// DB is where the server's databases live.
type DB struct {
	Host     string
	Port     int
	User     string
	Password string
}

// DynamicConfig is what runbook needs of the server beyond its defaults,
// mirroring what the CLI's dev server turns on, so a test that passes on
// one passes on the other for the product's reasons, not the server's.
func DynamicConfig() map[string]any {
	on := []map[string]any{{"value": true}}
	return map[string]any{
		// Updates (approvals and decisions are Updates) and Update-with-Start.
		"frontend.enableUpdateWorkflowExecution":              on,
		"frontend.enableUpdateWorkflowExecutionAsyncAccepted": on,
		"frontend.enableExecuteMultiOperation":                on,
		// Worker Versioning (deployments) in every API.
		"frontend.workerVersioningDataAPIs":     on,
		"frontend.workerVersioningWorkflowAPIs": on,
		"frontend.workerVersioningRuleAPIs":     on,
		"system.enableDeployments":              on,
		"system.enableDeploymentVersions":       on,
		// A search attribute is usable as soon as it is registered, as on the
		// dev server; the persistence limits rise with it, as the CLI does.
		"system.forceSearchAttributesCacheRefreshOnRead": on,
		"frontend.persistenceMaxQPS":                     []map[string]any{{"value": 10000}},
		"history.persistenceMaxQPS":                      []map[string]any{{"value": 45000}},
		// The CLI's list/count calls and the tests' polls are visibility
		// calls: the default of 10 per second throttles parallel tests.
		"frontend.namespaceRPS.visibility": []map[string]any{{"value": 100}},
		// A namespace registered at start is served within a second.
		"system.namespaceCacheRefreshInterval": []map[string]any{{"value": "1s"}},
		"limit.maxIDLength":                    []map[string]any{{"value": 255}},
	}
}

// serverConfig is the server's development.yaml: all services in one
// process on 127.0.0.1, PostgreSQL for both stores.
func serverConfig(ports Ports, db DB, dynamicConfigFile string) map[string]any {
	sql := func(name string, conns int) map[string]any {
		return map[string]any{"sql": map[string]any{
			"pluginName": "postgres12", "databaseName": name,
			"connectAddr": fmt.Sprintf("%s:%d", db.Host, db.Port), "connectProtocol": "tcp",
			"user": db.User, "password": db.Password,
			"maxConns": conns, "maxIdleConns": conns, "maxConnLifetime": "1h",
		}}
	}
	svc := func(grpc, membership int) map[string]any {
		return map[string]any{"rpc": map[string]any{"grpcPort": grpc, "membershipPort": membership, "bindOnIP": "127.0.0.1"}}
	}
	frontend := svc(ports.Frontend, ports.FrontendMembership)
	frontend["rpc"].(map[string]any)["httpPort"] = ports.FrontendHTTP
	return map[string]any{
		"log": map[string]any{"stdout": true, "level": "warn"},
		"persistence": map[string]any{
			"defaultStore": "postgres-default", "visibilityStore": "postgres-visibility",
			"numHistoryShards": HistoryShards,
			"datastores": map[string]any{
				"postgres-default":    sql(DefaultDB, 20),
				"postgres-visibility": sql(VisibilityDB, 10),
			},
		},
		"global": map[string]any{
			"membership": map[string]any{"maxJoinDuration": "30s", "broadcastAddress": "127.0.0.1"},
		},
		"services": map[string]any{
			"frontend": frontend,
			"history":  svc(ports.History, ports.HistoryMembership),
			"matching": svc(ports.Matching, ports.MatchingMembership),
			"worker":   svc(ports.Worker, ports.WorkerMembership),
		},
		"clusterMetadata": map[string]any{
			"enableGlobalNamespace":    false,
			"failoverVersionIncrement": 10,
			"masterClusterName":        "active",
			"currentClusterName":       "active",
			"clusterInformation": map[string]any{"active": map[string]any{
				"enabled": true, "initialFailoverVersion": 1, "rpcName": "frontend",
				"rpcAddress":  fmt.Sprintf("127.0.0.1:%d", ports.Frontend),
				"httpAddress": fmt.Sprintf("127.0.0.1:%d", ports.FrontendHTTP),
			}},
		},
		"dcRedirectionPolicy": map[string]any{"policy": "noop"},
		"dynamicConfigClient": map[string]any{"filepath": dynamicConfigFile, "pollInterval": "10s"},
	}
}

// writeConfig writes root/config/development.yaml and the dynamic config
// file beside it; the server reads them with --root root --env development.
func writeConfig(root string, ports Ports, db DB) error {
	dir := filepath.Join(root, "config")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	dyn := filepath.Join(dir, "dynamicconfig.yaml")
	if err := writeYAML(dyn, DynamicConfig()); err != nil {
		return err
	}
	return writeYAML(filepath.Join(dir, "development.yaml"), serverConfig(ports, db, dyn))
}

func writeYAML(path string, v any) error {
	b, err := yaml.Marshal(v)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o600)
}
