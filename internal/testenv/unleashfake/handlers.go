package unleashfake

import (
	"encoding/json"
	"net/http"
	"slices"
)

// found is the feature and environment a request names, or nil after an
// error answer.
func (s *Server) found(w http.ResponseWriter, r *http.Request) (*Feature, *Environment) {
	f, ok := s.features[r.PathValue("project")+"/"+r.PathValue("feature")]
	if !ok {
		reply(w, http.StatusNotFound, errorBody("Could not find feature flag "+r.PathValue("feature")))
		return nil, nil
	}
	name := r.PathValue("env")
	if name == "" {
		return f, nil
	}
	i := slices.IndexFunc(f.Environments, func(e *Environment) bool { return e.Name == name })
	if i < 0 {
		reply(w, http.StatusNotFound, errorBody("Could not find environment "+name))
		return nil, nil
	}
	return f, f.Environments[i]
}

// decode reads a JSON body, failing the test (and answering 400) when it
// is not JSON with Content-Type application/json.
func (s *Server) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if r.Header.Get("Content-Type") != "application/json" {
		s.t.Errorf("unleashfake: %s %s: Content-Type %q, want application/json", r.Method, r.URL.Path, r.Header.Get("Content-Type"))
		reply(w, http.StatusUnsupportedMediaType, errorBody("want application/json"))
		return false
	}
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		s.t.Errorf("unleashfake: %s %s: body: %v", r.Method, r.URL.Path, err)
		reply(w, http.StatusBadRequest, map[string]string{"name": "ValidationError", "message": err.Error()})
		return false
	}
	return true
}

func (s *Server) getFeature(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f, _ := s.found(w, r); f != nil {
		reply(w, http.StatusOK, f)
	}
}

// createFeature is POST /api/admin/projects/{project}/features: a new
// feature, disabled and without strategies in every environment; 409 when
// the name is taken, archived ones included.
func (s *Server) createFeature(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Name        string `json:"name"`
		Type        string `json:"type"`
		Description string `json:"description"`
	}
	if !s.decode(w, r, &in) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	key := r.PathValue("project") + "/" + in.Name
	if in.Name == "" {
		reply(w, http.StatusBadRequest, map[string]string{"name": "ValidationError", "message": "name is required"})
		return
	}
	if s.features[key] != nil || s.archived[key] != nil {
		reply(w, http.StatusConflict, map[string]string{"name": "NameExistsError", "message": "The feature flag name " + in.Name + " already exists"})
		return
	}
	if in.Type == "" {
		in.Type = "release"
	}
	f := &Feature{Name: in.Name, Project: r.PathValue("project"), Type: in.Type, Description: in.Description}
	s.addMissingEnvs(f)
	s.features[key] = f
	s.changes++
	reply(w, http.StatusCreated, f)
}

// archiveFeature is DELETE .../features/{feature}: Unleash archives.
func (s *Server) archiveFeature(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, _ := s.found(w, r)
	if f == nil {
		return
	}
	key := f.Project + "/" + f.Name
	delete(s.features, key)
	s.archived[key] = f
	s.changes++
	reply(w, http.StatusAccepted, nil)
}

// deleteArchived is POST /api/admin/projects/{project}/delete: deletes
// archived features for good; a feature not archived is a 400.
func (s *Server) deleteArchived(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Features []string `json:"features"`
	}
	if !s.decode(w, r, &in) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, name := range in.Features {
		if s.archived[r.PathValue("project")+"/"+name] == nil {
			reply(w, http.StatusBadRequest, map[string]string{"name": "ValidationError", "message": name + " is not archived"})
			return
		}
	}
	for _, name := range in.Features {
		delete(s.archived, r.PathValue("project")+"/"+name)
	}
	s.changes++
	reply(w, http.StatusOK, nil)
}

// addStrategy is POST .../environments/{env}/strategies.
func (s *Server) addStrategy(w http.ResponseWriter, r *http.Request) {
	var st Strategy
	if !s.decode(w, r, &st) || !s.validStrategy(w, st) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, e := s.found(w, r)
	if e == nil {
		return
	}
	st = s.withID(st)
	e.Strategies = append(e.Strategies, st)
	s.changes++
	reply(w, http.StatusOK, st)
}

// updateStrategy is PUT .../strategies/{id}: replaces the strategy.
func (s *Server) updateStrategy(w http.ResponseWriter, r *http.Request) {
	var st Strategy
	if !s.decode(w, r, &st) || !s.validStrategy(w, st) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, e := s.found(w, r)
	if e == nil {
		return
	}
	i := slices.IndexFunc(e.Strategies, func(x Strategy) bool { return x["id"] == r.PathValue("id") })
	if i < 0 {
		reply(w, http.StatusNotFound, errorBody("Could not find strategy "+r.PathValue("id")))
		return
	}
	st["id"] = r.PathValue("id")
	e.Strategies[i] = st
	s.changes++
	reply(w, http.StatusOK, st)
}

// deleteStrategy is DELETE .../strategies/{id}.
func (s *Server) deleteStrategy(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, e := s.found(w, r)
	if e == nil {
		return
	}
	i := slices.IndexFunc(e.Strategies, func(x Strategy) bool { return x["id"] == r.PathValue("id") })
	if i < 0 {
		reply(w, http.StatusNotFound, errorBody("Could not find strategy "+r.PathValue("id")))
		return
	}
	e.Strategies = slices.Delete(e.Strategies, i, i+1)
	s.changes++
	reply(w, http.StatusOK, nil)
}

// toggle is POST .../environments/{env}/on and /off.
func (s *Server) toggle(on bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		_, e := s.found(w, r)
		if e == nil {
			return
		}
		e.Enabled = on
		s.changes++
		reply(w, http.StatusOK, nil)
	}
}

func (s *Server) listSegments(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	reply(w, http.StatusOK, map[string]any{"segments": s.segments})
}

// validStrategy checks what Unleash's createFeatureStrategySchema
// requires: a name; parameters, when given, map names to strings; segments
// are ids of existing segments; a client may not choose the id.
func (s *Server) validStrategy(w http.ResponseWriter, st Strategy) bool {
	bad := func(msg string) bool {
		s.t.Errorf("unleashfake: strategy %v: %s", st, msg)
		reply(w, http.StatusBadRequest, map[string]string{"name": "ValidationError", "message": msg})
		return false
	}
	if name, _ := st["name"].(string); name == "" {
		return bad("name is required")
	}
	if _, ok := st["id"]; ok {
		return bad("id is assigned by Unleash")
	}
	if p, ok := st["parameters"]; ok {
		m, ok := p.(map[string]any)
		if !ok {
			return bad("parameters must be an object")
		}
		for k, v := range m {
			if _, ok := v.(string); !ok {
				return bad("parameter " + k + " must be a string")
			}
		}
	}
	if seg, ok := st["segments"]; ok {
		ids, ok := seg.([]any)
		if !ok {
			return bad("segments must be a list of ids")
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, id := range ids {
			n, ok := id.(float64)
			if !ok || !slices.ContainsFunc(s.segments, func(x Segment) bool { return float64(x.ID) == n }) {
				return bad("no segment with id " + jsonString(id))
			}
		}
	}
	return true
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
