package launchdarklyfake

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
)

// getFlag is GET /api/v2/flags/{project}/{key}; env, when given, limits
// the environments shown (comma-separated keys).
func (s *Server) getFlag(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.flags[r.PathValue("project")+"/"+r.PathValue("key")]
	if !ok {
		reply(w, http.StatusNotFound, apiError("not_found", "Unknown resource"))
		return
	}
	out := *f
	if env := r.URL.Query().Get("env"); env != "" {
		out.Environments = map[string]*FlagEnv{}
		for _, k := range strings.Split(env, ",") {
			if e, ok := f.Environments[k]; ok {
				out.Environments[k] = e
			}
		}
	}
	reply(w, http.StatusOK, out)
}

// createFlag is POST /api/v2/flags/{project}: a new flag, off in every
// environment; boolean (true, false) when it names no variations; 409
// when the key is taken.
func (s *Server) createFlag(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Key         string      `json:"key"`
		Name        string      `json:"name"`
		Description string      `json:"description"`
		Temporary   bool        `json:"temporary"`
		Variations  []Variation `json:"variations"`
		Defaults    *struct {
			OnVariation  int `json:"onVariation"`
			OffVariation int `json:"offVariation"`
		} `json:"defaults"`
	}
	if !s.decode(w, r, "application/json", &in) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if in.Key == "" || in.Name == "" {
		s.bad(w, "key and name are required")
		return
	}
	key := r.PathValue("project") + "/" + in.Key
	if s.flags[key] != nil {
		reply(w, http.StatusConflict, apiError("conflict", "A flag with key "+in.Key+" already exists"))
		return
	}
	if len(in.Variations) == 0 {
		in.Variations = []Variation{{Value: true}, {Value: false}}
	}
	kind := "multivariate"
	if len(in.Variations) == 2 && in.Variations[0].Value == true && in.Variations[1].Value == false {
		kind = "boolean"
	}
	on, off := 0, len(in.Variations)-1
	if in.Defaults != nil {
		on, off = in.Defaults.OnVariation, in.Defaults.OffVariation
	}
	if on < 0 || off < 0 || on >= len(in.Variations) || off >= len(in.Variations) {
		s.bad(w, "defaults name a variation the flag does not have")
		return
	}
	f := &Flag{Key: in.Key, Name: in.Name, Kind: kind, Description: in.Description, Temporary: in.Temporary, Variations: in.Variations,
		Version: 1, Environments: map[string]*FlagEnv{}}
	for i := range f.Variations {
		f.Variations[i].ID = s.id()
	}
	s.addMissingEnvs(f, on, off)
	s.flags[key] = f
	s.comments = append(s.comments, "created "+in.Key)
	reply(w, http.StatusCreated, f)
}

// deleteFlag is DELETE /api/v2/flags/{project}/{key}: 204.
func (s *Server) deleteFlag(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := r.PathValue("project") + "/" + r.PathValue("key")
	if s.flags[key] == nil {
		reply(w, http.StatusNotFound, apiError("not_found", "Unknown resource"))
		return
	}
	delete(s.flags, key)
	s.comments = append(s.comments, "deleted "+r.PathValue("key"))
	w.WriteHeader(http.StatusNoContent)
}

// patchFlag is PATCH /api/v2/flags/{project}/{key}: a semantic patch or a
// JSON Patch by Content-Type, applied to a copy and stored only when every
// instruction or operation succeeded, as LaunchDarkly does.
func (s *Server) patchFlag(w http.ResponseWriter, r *http.Request) {
	ct := r.Header.Get("Content-Type")
	semantic := strings.ReplaceAll(ct, " ", "") == "application/json;domain-model=launchdarkly.semanticpatch"
	var body json.RawMessage
	if !s.decode(w, r, map[bool]string{true: ct, false: "application/json"}[semantic], &body) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	key := r.PathValue("project") + "/" + r.PathValue("key")
	f, ok := s.flags[key]
	if !ok {
		reply(w, http.StatusNotFound, apiError("not_found", "Unknown resource"))
		return
	}
	c := clone(f)
	var comment string
	var err error
	if semantic {
		comment, err = s.semanticPatch(c, body)
	} else {
		comment, err = s.jsonPatch(c, body)
	}
	if err != nil {
		s.bad(w, err.Error())
		return
	}
	c.Version++
	s.flags[key] = c
	s.comments = append(s.comments, comment)
	reply(w, http.StatusOK, c)
}

// decode reads a JSON body sent with Content-Type want, failing the test
// otherwise.
func (s *Server) decode(w http.ResponseWriter, r *http.Request, want string, v any) bool {
	if r.Header.Get("Content-Type") != want {
		s.t.Errorf("launchdarklyfake: %s %s: Content-Type %q, want %q", r.Method, r.URL.Path, r.Header.Get("Content-Type"), want)
		reply(w, http.StatusUnsupportedMediaType, apiError("unsupported_media_type", "want "+want))
		return false
	}
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		s.bad(w, "invalid JSON: "+err.Error())
		return false
	}
	return true
}

// bad answers 400 and fails the test: runbook never sends LaunchDarkly a
// request it would refuse.
func (s *Server) bad(w http.ResponseWriter, msg string) {
	s.t.Errorf("launchdarklyfake: 400: %s", msg)
	reply(w, http.StatusBadRequest, apiError("invalid_request", msg))
}

func clone(f *Flag) *Flag {
	var c Flag
	b, _ := json.Marshal(f)
	_ = json.Unmarshal(b, &c)
	return &c
}

func (f *Flag) variationIndex(id string) (int, bool) {
	i := slices.IndexFunc(f.Variations, func(v Variation) bool { return v.ID == id })
	return i, i >= 0
}
