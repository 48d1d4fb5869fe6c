package devstack

import (
	"crypto/rand"
	"encoding/base64"
	"io"
	"net/http"
	"testing"

	"github.com/runbookhq/runbook/internal/codec"
)

// TestStartCodecServesTheUIOrigin: with encrypted payloads the stack's
// codec server answers the local UI's preflight, and without them none starts.
func TestStartCodecServesTheUIOrigin(t *testing.T) {
	s := &Stack{UIPort: 18233, Out: io.Discard}
	if url, err := s.startCodec(); err != nil || url != "" {
		t.Fatalf("no codec: want no server, got %q %v", url, err)
	}
	key := make([]byte, codec.KeySize)
	_, _ = rand.Read(key)
	c, err := codec.New("dev=" + base64.StdEncoding.EncodeToString(key))
	if err != nil {
		t.Fatal(err)
	}
	s.Config.Codec = c
	url, err := s.startCodec()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	req, _ := http.NewRequest(http.MethodOptions, url+"/decode", nil)
	req.Header.Set("Origin", "http://127.0.0.1:18233")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != "http://127.0.0.1:18233" {
		t.Fatalf("preflight from the UI origin: %d %q", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
	}
}
