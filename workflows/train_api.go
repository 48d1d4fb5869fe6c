package workflows

import (
	"time"

	"github.com/runbookhq/runbook/internal/identity"
	"github.com/runbookhq/runbook/runbooks"
)

// TrainWorkflowName is the workflow type of a release train.
const TrainWorkflowName = "Train"

// Rollback scopes of a train: what else is rolled back in an environment
// where a service failed (its own release already undid itself).
const (
	// TrainScopeDependents rolls back the services released there that
	// depend, through after:, on the one that failed.
	TrainScopeDependents = "dependents"
	// TrainScopeEnvironment rolls back every service the train released
	// there, in reverse dependency order.
	TrainScopeEnvironment = "environment"
	// TrainScopeNone rolls back nothing else.
	TrainScopeNone = "none"
)

// PlanTrainRollbackActivity is the activity (served by the worker, which
// holds a releases client) that works out the one-command rollback of a
// service in an environment: what goes back, under which release ID.
const PlanTrainRollbackActivity = "PlanTrainRollback"

// TrainID is the workflow ID of one run of a train.
func TrainID(train, name string) string {
	return "train/" + train + "/" + name
}

// TrainCellID is the release ID of one service in one environment of a
// train: an ordinary Release of that service into that environment only.
func TrainCellID(trainID, service, env string) string {
	return trainID + "/" + service + "/" + env
}

// TrainInput is the one input of the Train workflow.
type TrainInput struct {
	Train string `json:"train"`
	Name  string `json:"name"`
	// File is the train file, for messages.
	File         string         `json:"file,omitempty"`
	Requester    string         `json:"requester"`
	Environments []string       `json:"environments"`
	Gates        []TrainGate    `json:"gates,omitempty"`
	Scope        string         `json:"rollback-scope"`
	Services     []TrainService `json:"services"`
	UIURL        string         `json:"ui-url,omitempty"`
	// Slack, when set, gets the train gates with buttons and the train's
	// progress in their thread.
	Slack *runbooks.Slack `json:"slack,omitempty"`
}

// TrainGate is one train-level approval, asked once for the whole train
// before any service enters Environment.
type TrainGate struct {
	Environment string            `json:"environment"`
	Approval    runbooks.Approval `json:"approval"`
}

// TrainService is one service of the train: its resolved release (every
// environment of its runbook; the train releases one at a time) and the
// services it comes after.
type TrainService struct {
	Name    string       `json:"name"`
	After   []string     `json:"after,omitempty"`
	Release ReleaseInput `json:"release"`
	// Proofs sign each cell's release (DeployClaim of its ID) as the
	// requester, for environments that need signed decisions.
	Proofs []CellProof `json:"proofs,omitempty"`
}

// CellProof is the requester's signature of one cell's release and, when
// a version was live there at the train's start, of its rollback to that
// version (DeployClaim of TrainRollbackID): the train may have to put it
// back, and a signed environment starts no release nobody signed.
type CellProof struct {
	Environment   string          `json:"environment"`
	Proof         *identity.Proof `json:"proof"`
	RollbackTo    string          `json:"rollback-to,omitempty"`
	RollbackProof *identity.Proof `json:"rollback-proof,omitempty"`
}

// TrainRollbackID is the release ID of the rollback of a train's release.
func TrainRollbackID(cellID string) string {
	return cellID + "/rollback"
}

// TrainStatus is what the train's status query returns.
type TrainStatus struct {
	TrainID   string    `json:"train-id"`
	Train     string    `json:"train"`
	Name      string    `json:"name"`
	Requester string    `json:"requester"`
	State     string    `json:"state"`
	Reason    string    `json:"reason,omitempty"`
	Scope     string    `json:"rollback-scope"`
	StartedAt time.Time `json:"started-at"`
	EndedAt   time.Time `json:"ended-at,omitzero"`
	// Current is the environment the train works in now.
	Current      string             `json:"current,omitempty"`
	Environments []TrainEnvironment `json:"environments"`
	// Abort is who stopped the train, when someone did.
	Abort *Decision `json:"abort,omitempty"`
}

// TrainEnvironment is the train's progress in one environment.
type TrainEnvironment struct {
	Name  string `json:"name"`
	State string `json:"state"`
	// Hold says what keeps the train from entering (a window, a freeze).
	Hold  string        `json:"hold,omitempty"`
	Gates []*GateStatus `json:"gates,omitempty"`
	Cells []TrainCell   `json:"cells"`
	// Rollbacks are the rollbacks the train started here after a failure.
	Rollbacks []TrainRollback `json:"rollbacks,omitempty"`
}

// TrainCell is one service in one environment.
type TrainCell struct {
	Service   string    `json:"service"`
	Version   string    `json:"version"`
	After     []string  `json:"after,omitempty"`
	ReleaseID string    `json:"release-id"`
	State     string    `json:"state"`
	Reason    string    `json:"reason,omitempty"`
	StartedAt time.Time `json:"started-at,omitzero"`
	EndedAt   time.Time `json:"ended-at,omitzero"`
}

// TrainRollback is one rollback the train started.
type TrainRollback struct {
	Service   string `json:"service"`
	ReleaseID string `json:"release-id,omitempty"`
	// To is the version put back.
	To    string `json:"to,omitempty"`
	State string `json:"state"`
	Why   string `json:"why"`
}

// Finished reports whether the train has ended.
func (s TrainStatus) Finished() bool { return !s.EndedAt.IsZero() }

// Cell finds service's cell in env.
func (s TrainStatus) Cell(env, service string) (TrainCell, bool) {
	for _, e := range s.Environments {
		if e.Name != env {
			continue
		}
		for _, c := range e.Cells {
			if c.Service == service {
				return c, true
			}
		}
	}
	return TrainCell{}, false
}

// PlanTrainRollbackInput asks for the rollback of Service in Environment,
// which the train released as ReleaseID.
type PlanTrainRollbackInput struct {
	Service     string `json:"service"`
	Environment string `json:"environment"`
	ReleaseID   string `json:"release-id"`
	Reason      string `json:"reason"`
	Requester   string `json:"requester"`
}

// PlanTrainRollbackResult is the rollback release to start, or why there
// is none (nothing ran there before: a first install stays).
type PlanTrainRollbackResult struct {
	Input   ReleaseInput `json:"input"`
	To      string       `json:"to,omitempty"`
	Path    string       `json:"path,omitempty"`
	Nothing string       `json:"nothing,omitempty"`
}
