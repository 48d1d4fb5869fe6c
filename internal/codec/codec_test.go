package codec

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
)

// newKeyLine returns "id=<32 random bytes, base64>".
func newKeyLine(t *testing.T, id string) string {
	t.Helper()
	b := make([]byte, KeySize)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return id + "=" + base64.StdEncoding.EncodeToString(b)
}

// status is a payload like the ones releases store: JSON with a comment.
type status struct {
	Service, Owner, Comment string
	Steps                   []string
}

func plain(t *testing.T, v any) *commonpb.Payload {
	t.Helper()
	p, err := converter.GetDefaultDataConverter().ToPayload(v)
	require.NoError(t, err)
	return p
}

func TestRoundTripThroughDataConverter(t *testing.T) {
	c, err := New(newKeyLine(t, "k1"))
	require.NoError(t, err)
	dc := converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), c)
	in := status{Service: "checkout", Owner: "team-payments", Comment: "ship it, CAB-1234", Steps: []string{"migrate-db", "canary"}}
	p, err := dc.ToPayload(in)
	require.NoError(t, err)
	require.Equal(t, Encoding, string(p.Metadata[converter.MetadataEncoding]))
	require.Equal(t, "k1", string(p.Metadata[MetaKeyID]))
	for _, s := range []string{"checkout", "team-payments", "CAB-1234", "migrate-db", "json/plain"} {
		require.NotContains(t, string(p.Data), s)
	}
	var out status
	require.NoError(t, dc.FromPayload(p, &out))
	require.Equal(t, in, out)
}

func TestNonceIsFreshEachTime(t *testing.T) {
	c, err := New(newKeyLine(t, "k1"))
	require.NoError(t, err)
	a, err := c.Encode([]*commonpb.Payload{plain(t, "same")})
	require.NoError(t, err)
	b, err := c.Encode([]*commonpb.Payload{plain(t, "same")})
	require.NoError(t, err)
	require.NotEqual(t, a[0].Data, b[0].Data)
}

func TestPlaintextPassesThrough(t *testing.T) {
	c, err := New(newKeyLine(t, "k1"))
	require.NoError(t, err)
	p := plain(t, status{Service: "old"})
	out, err := c.Decode([]*commonpb.Payload{p})
	require.NoError(t, err)
	require.Same(t, p, out[0])
}

func TestRotation(t *testing.T) {
	old := newKeyLine(t, "2025-01")
	before, err := New(old)
	require.NoError(t, err)
	sealedOld, err := before.Encode([]*commonpb.Payload{plain(t, "written before rotation")})
	require.NoError(t, err)

	after, err := New(newKeyLine(t, "2026-12") + "\n# kept to read old histories\n" + old + "\n")
	require.NoError(t, err)
	require.Equal(t, "2026-12", after.KeyID())
	sealedNew, err := after.Encode([]*commonpb.Payload{plain(t, "written after")})
	require.NoError(t, err)
	require.Equal(t, "2026-12", string(sealedNew[0].Metadata[MetaKeyID]))

	out, err := after.Decode([]*commonpb.Payload{sealedOld[0], sealedNew[0]})
	require.NoError(t, err)
	var a, b string
	require.NoError(t, converter.GetDefaultDataConverter().FromPayload(out[0], &a))
	require.NoError(t, converter.GetDefaultDataConverter().FromPayload(out[1], &b))
	require.Equal(t, "written before rotation", a)
	require.Equal(t, "written after", b)

	// The old codec has never heard of the new key: a clear error.
	_, err = before.Decode(sealedNew)
	require.ErrorIs(t, err, ErrUnknownKey)
	require.ErrorContains(t, err, `"2026-12"`)
	require.ErrorContains(t, err, EnvKeys)
}

func TestWrongKeyUnderSameID(t *testing.T) {
	a, err := New(newKeyLine(t, "k1"))
	require.NoError(t, err)
	b, err := New(newKeyLine(t, "k1"))
	require.NoError(t, err)
	sealed, err := a.Encode([]*commonpb.Payload{plain(t, "secret")})
	require.NoError(t, err)
	_, err = b.Decode(sealed)
	require.ErrorContains(t, err, "does not authenticate")
}

func TestTamperDetected(t *testing.T) {
	c, err := New(newKeyLine(t, "k1") + "\n" + newKeyLine(t, "k2"))
	require.NoError(t, err)
	for name, alter := range map[string]func(p *commonpb.Payload){
		"flipped ciphertext bit": func(p *commonpb.Payload) { p.Data[len(p.Data)/2] ^= 1 },
		"flipped nonce bit":      func(p *commonpb.Payload) { p.Data[0] ^= 1 },
		"truncated":              func(p *commonpb.Payload) { p.Data = p.Data[:10] },
		"key ID swapped":         func(p *commonpb.Payload) { p.Metadata[MetaKeyID] = []byte("k2") },
	} {
		t.Run(name, func(t *testing.T) {
			sealed, err := c.Encode([]*commonpb.Payload{plain(t, status{Comment: "approved"})})
			require.NoError(t, err)
			alter(sealed[0])
			_, err = c.Decode(sealed)
			require.Error(t, err)
		})
	}
}

func TestCompressedBeforeEncryption(t *testing.T) {
	c, err := New(newKeyLine(t, "k1"))
	require.NoError(t, err)
	// A status is repetitive JSON: many steps with the same fields.
	steps := make([]string, 400)
	for i := range steps {
		steps[i] = "http-check https://checkout.internal/healthz state=succeeded"
	}
	p := plain(t, status{Service: "checkout", Steps: steps})
	sealed, err := c.Encode([]*commonpb.Payload{p})
	require.NoError(t, err)
	t.Logf("payload %d bytes, encrypted %d bytes", len(p.Data), len(sealed[0].Data))
	require.Less(t, len(sealed[0].Data), len(p.Data)/10)
}

func TestKeysRefused(t *testing.T) {
	short := "k1=" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 16))
	for text, want := range map[string]string{
		"":                     "no keys",
		short:                  "has 16 bytes",
		"k1=not base64!":       "not base64",
		"no separator":         "want ID=",
		"bad id!=" + short[3:]: "want ID=",
		newKeyLine(t, "a") + "\n" + newKeyLine(t, "a"): "appears twice",
	} {
		_, err := New(text)
		require.ErrorContains(t, err, want, "keys %q", text)
		// Key material never shows in a message.
		if _, b64, ok := strings.Cut(text, "="); ok && len(b64) > 8 {
			require.NotContains(t, err.Error(), b64)
		}
	}
}

func TestFromEnv(t *testing.T) {
	env := map[string]string{}
	getenv := func(k string) string { return env[k] }
	c, err := FromEnv(getenv)
	require.NoError(t, err)
	require.Nil(t, c, "unset: no codec")

	env[EnvKeys] = newKeyLine(t, "k1")
	_, err = FromEnv(getenv)
	require.ErrorContains(t, err, "not the secret itself")

	env["MY_KEYS"] = newKeyLine(t, "k9")
	env[EnvKeys] = "env:MY_KEYS"
	c, err = FromEnv(getenv)
	require.NoError(t, err)
	require.Equal(t, "k9", c.KeyID())

	env[EnvKeys] = "file:/nonexistent/keys"
	_, err = FromEnv(getenv)
	require.ErrorContains(t, err, EnvKeys)
}

func TestMissingKeys(t *testing.T) {
	c, err := New(newKeyLine(t, "k7"))
	require.NoError(t, err)
	sealed, err := c.Encode([]*commonpb.Payload{plain(t, "secret")})
	require.NoError(t, err)
	p := plain(t, "plain")
	enc, err := Missing{}.Encode([]*commonpb.Payload{p})
	require.NoError(t, err)
	require.Same(t, p, enc[0])
	dec, err := Missing{}.Decode([]*commonpb.Payload{p})
	require.NoError(t, err)
	require.Same(t, p, dec[0])
	_, err = Missing{}.Decode(sealed)
	require.ErrorIs(t, err, ErrUnknownKey)
	require.ErrorContains(t, err, `"k7"`)
	require.ErrorContains(t, err, EnvKeys+" is not set")
}
