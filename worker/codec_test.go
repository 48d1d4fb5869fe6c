package worker

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/proto"

	"github.com/runbookhq/runbook/internal/codec"
)

// TestCodecFromTheEnvironment: RUNBOOK_CODEC_KEYS makes every client
// encrypt payloads and failure messages; unset, nothing changes.
func TestCodecFromTheEnvironment(t *testing.T) {
	t.Setenv("TEMPORAL_CONFIG_FILE", filepath.Join(t.TempDir(), "none.toml"))
	t.Setenv(codec.EnvKeys, "")
	cfg, err := LoadConfig()
	if err != nil {
		t.Fatal(err)
	}
	plain := clientOptions(cfg)
	if plain.FailureConverter != nil || cfg.Codec != nil {
		t.Fatal("no RUNBOOK_CODEC_KEYS must leave the SDK's failure converter")
	}
	pp, err := plain.DataConverter.ToPayload("approved by CAB")
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := converter.GetDefaultDataConverter().ToPayload("approved by CAB"); !proto.Equal(pp, want) {
		t.Fatalf("without keys payloads must be the SDK's default: %v, want %v", pp, want)
	}

	key := make([]byte, codec.KeySize)
	_, _ = rand.Read(key)
	file := filepath.Join(t.TempDir(), "keys")
	if err := os.WriteFile(file, []byte("k1="+base64.StdEncoding.EncodeToString(key)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(codec.EnvKeys, "file:"+file)
	if cfg, err = LoadConfig(); err != nil {
		t.Fatal(err)
	}
	opts := clientOptions(cfg)
	p, err := opts.DataConverter.ToPayload("approved by CAB")
	if err != nil {
		t.Fatal(err)
	}
	if string(p.Metadata[converter.MetadataEncoding]) != codec.Encoding || strings.Contains(string(p.Data), "CAB") {
		t.Fatalf("payload not encrypted: %v", p)
	}
	f := opts.FailureConverter.ErrorToFailure(errors.New("http-check https://checkout.internal failed"))
	if strings.Contains(f.String(), "checkout.internal") {
		t.Fatalf("failure message left in plaintext: %v", f)
	}
	if got := opts.FailureConverter.FailureToError(f).Error(); !strings.Contains(got, "checkout.internal") {
		t.Fatalf("failure does not decode back: %s", got)
	}
	var back string
	if err := cfg.DataConverter().FromPayload(p, &back); err != nil || back != "approved by CAB" {
		t.Fatalf("Config.DataConverter does not decode what the client encodes: %q %v", back, err)
	}
	var none string
	if err := plain.DataConverter.FromPayload(p, &none); err == nil || !strings.Contains(err.Error(), codec.EnvKeys) || !strings.Contains(err.Error(), `"k1"`) {
		t.Fatalf("a client without keys reading an encrypted payload: %v, want an error naming key k1 and %s", err, codec.EnvKeys)
	}

	t.Setenv(codec.EnvKeys, "file:"+filepath.Join(t.TempDir(), "missing"))
	if _, err := LoadConfig(); err == nil || !strings.Contains(err.Error(), codec.EnvKeys) {
		t.Fatalf("a missing key file must fail the start naming %s: %v", codec.EnvKeys, err)
	}
}
