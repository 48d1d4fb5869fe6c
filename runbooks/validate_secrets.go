package runbooks

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/runbookhq/runbook/internal/netguard"
	"github.com/runbookhq/runbook/internal/secretref"
)

// Checks that keep the worker's secrets in the worker. A runbook is written
// by people who do not hold those secrets and is recorded, as written, in
// workflow history: so a credential in it must be a reference the worker
// resolves, never the value; a reference must not name the worker's own
// settings; and no URL may point at the cloud metadata service, which
// answers the worker with the host's credentials. The worker checks all of
// this again when it resolves and connects (internal/secretref,
// internal/netguard); these checks say so early, at the line to fix.

// secretNameRe matches a header, option or variable name whose value is a
// credential.
var secretNameRe = regexp.MustCompile(`(?i)(authorization|token|secret|passw(or)?d|api[-_]?key|credential|private[-_]?key|cookie|session)`)

// neverEnv reports an env:NAME value naming one of the worker's own settings
// (Slack, AWS, Temporal, RUNBOOK_*), which no worker resolves for a
// runbook; product lists names the field resolves on the product's behalf.
func (v *validator) neverEnv(path, val string, product ...string) {
	name, ok := strings.CutPrefix(val, secretref.Prefix)
	if ok && envNameRe.MatchString(name) && secretref.Never(name, product...) {
		v.errf(path, "%s", secretref.NeverReason(name))
	}
}

// literalSecret reports a literal value in a field whose name says it holds
// a credential (what is "header", "option" or "variable").
func (v *validator) literalSecret(path, what, name, val string) {
	if val == "" || strings.HasPrefix(val, secretref.Prefix) || !secretNameRe.MatchString(name) {
		return
	}
	v.errf(path, "%s %q holds a credential, written here as a literal value; write env:NAME and set NAME on the worker (listed in %s), so the value stays out of the runbook and the workflow history",
		what, name, secretref.AllowEnv)
}

// urlHost reports a URL with a password in it or a host on a link-local or
// cloud metadata address (in any spelling, 2852039166 included).
func (v *validator) urlHost(path, what, raw string, u *url.URL) {
	if _, has := u.User.Password(); has {
		v.errf(path, "%s %q has a password in it; the URL is kept in workflow history, so send the credential in a header written env:NAME", what, u.Redacted())
	}
	if err := netguard.CheckHost(u.Hostname()); err != nil {
		v.errf(path, "%s %q is refused: %s; the worker never calls such an address, since from the worker it can answer with the host's cloud credentials", what, raw, strings.TrimPrefix(err.Error(), netguard.ErrBlocked.Error()+": "))
	}
}

// optionValues checks the values of provider options and slot keys (what
// names them, e.g. "traffic option"): references, literal credentials and
// URLs. Slot values count too, since ${slot.KEY} puts them into URLs and
// headers. product lists env names the options read on the product's behalf.
func (v *validator) optionValues(path, what string, opts map[string]string, keys []string, product ...string) {
	for _, k := range keys {
		p, val := join(path, k), opts[k]
		v.neverEnv(p, val, product...)
		v.literalSecret(p, what, k, val)
		if strings.HasPrefix(val, "http://") || strings.HasPrefix(val, "https://") {
			if u, err := url.Parse(withPlaceholders(val)); err == nil {
				v.urlHost(p, fmt.Sprintf("%s %s", what, k), val, u)
			} else {
				var ue *url.Error
				if errors.As(err, &ue) {
					err = ue.Err
				}
				v.errf(p, "%s %s %q is not a valid URL: %v", what, k, val, err)
			}
		}
	}
}
