package edgeproxy

import (
	"errors"
	"path/filepath"
	"testing"
)

func TestParseBackendFlag(t *testing.T) {
	b, err := ParseBackendFlag("blue=http://127.0.0.1:9001/x?a=b=30")
	if err != nil || b != (BackendSpec{Name: "blue", URL: "http://127.0.0.1:9001/x?a=b", Weight: 30}) {
		t.Fatalf("got %+v, %v", b, err)
	}
	for _, bad := range []string{"blue", "blue=http://x", "blue=http://x=lots", "blue=http://x=101", "=http://x=1", "b=ftp://x=1"} {
		if _, err := ParseBackendFlag(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("%q: %v, want ErrInvalid", bad, err)
		}
	}
}

func TestSeedKeepsPersistedBackends(t *testing.T) {
	state := filepath.Join(t.TempDir(), "edge.json")
	s := startEdge(t, state)
	added, err := s.Seed([]BackendSpec{{Name: "a", URL: "http://127.0.0.1:1", Weight: 100}, {Name: "b", URL: "http://127.0.0.1:2", Weight: 0}})
	if err != nil || len(added) != 2 {
		t.Fatalf("first seed: %v %v", added, err)
	}
	setWeights(t, s, map[string]int{"a": 0, "b": 100})
	stopEdge(t, s)

	s2 := startEdge(t, state)
	added, err = s2.Seed([]BackendSpec{{Name: "a", URL: "http://127.0.0.1:1", Weight: 100}, {Name: "c", URL: "http://127.0.0.1:3", Weight: 5}})
	if err != nil || len(added) != 1 || added[0] != "c" {
		t.Fatalf("second seed: %v %v, want only c added", added, err)
	}
	if bs := s2.Backends(); len(bs) != 3 || bs[0].Weight != 0 || bs[1].Weight != 100 || bs[2].Weight != 5 {
		t.Fatalf("after reseed: %+v, want a=0 b=100 c=5", bs)
	}
}
