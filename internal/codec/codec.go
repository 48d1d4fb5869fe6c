// Package codec encrypts what runbook stores in Temporal: every payload
// (workflow inputs and results, statuses, signals, Updates, queries,
// heartbeats, memo) is compressed, then sealed with AES-256-GCM under a key
// only the worker, the CLI and the codec server hold. The Temporal server
// (and whoever reads its database or backups) sees the key ID and
// ciphertext; people read the plaintext through `runbook status` or
// through the Web UI pointed at `runbook codec-server`.
//
// Payloads that are not encrypted pass through Decode unchanged, so
// histories written before encryption was turned on (and the captured
// fixtures) still decode and replay.
package codec

import (
	"crypto/rand"
	"errors"
	"fmt"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/proto"

	"github.com/klauspost/compress/zstd"
)

// Metadata keys and values of an encrypted payload.
const (
	// Encoding is the metadata "encoding" of an encrypted payload; the
	// original encoding is inside the ciphertext, with the whole payload.
	Encoding = "binary/encrypted"
	// MetaKeyID names the key that sealed the payload.
	MetaKeyID = "encryption-key-id"
	// MetaCipher says how: zstd, then AES-256-GCM with a 96-bit nonce
	// prepended to the ciphertext and the key ID as additional data.
	MetaCipher = "encryption-cipher"
	// Cipher is MetaCipher's one value so far.
	Cipher = "zstd+AES256-GCM"
)

// maxDecoded bounds what one payload may decompress to, so a forged or
// corrupt payload cannot make a worker allocate without limit. Temporal
// refuses payloads over 2 MiB by default, and zstd compresses JSON well,
// but not 32 times better than that.
const maxDecoded = 64 << 20

// Codec is a converter.PayloadCodec: Encode encrypts with the first key,
// Decode decrypts with the key the payload names.
type Codec struct {
	keys []key
	enc  *zstd.Encoder
	dec  *zstd.Decoder
}

var _ converter.PayloadCodec = (*Codec)(nil)

// New parses key text (see FromEnv for its format) into a codec.
func New(keyText string) (*Codec, error) {
	keys, err := parseKeys(keyText)
	if err != nil {
		return nil, err
	}
	// EncodeAll and DecodeAll are safe for concurrent use; the worker's
	// pollers call them from many goroutines.
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault))
	if err != nil {
		return nil, err
	}
	dec, err := zstd.NewReader(nil, zstd.WithDecoderMaxMemory(maxDecoded), zstd.WithDecoderMaxWindow(maxDecoded))
	if err != nil {
		return nil, err
	}
	return &Codec{keys: keys, enc: enc, dec: dec}, nil
}

// KeyID is the ID of the key that encrypts.
func (c *Codec) KeyID() string { return c.keys[0].id }

// Encode seals each payload with the first key.
func (c *Codec) Encode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		e, err := c.seal(p)
		if err != nil {
			return nil, err
		}
		out[i] = e
	}
	return out, nil
}

// seal marshals p whole (data and metadata), compresses and encrypts it.
func (c *Codec) seal(p *commonpb.Payload) (*commonpb.Payload, error) {
	raw, err := proto.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("codec: marshal payload: %w", err)
	}
	k := c.keys[0]
	nonce := make([]byte, k.aead.NonceSize(), k.aead.NonceSize()+len(raw)+k.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("codec: nonce: %w", err)
	}
	sealed := k.aead.Seal(nonce, nonce, c.enc.EncodeAll(raw, nil), []byte(k.id))
	return &commonpb.Payload{
		Metadata: map[string][]byte{
			converter.MetadataEncoding: []byte(Encoding),
			MetaKeyID:                  []byte(k.id),
			MetaCipher:                 []byte(Cipher),
		},
		Data: sealed,
	}, nil
}

// Decode opens each encrypted payload; others pass through unchanged.
func (c *Codec) Decode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		if string(p.GetMetadata()[converter.MetadataEncoding]) != Encoding {
			out[i] = p
			continue
		}
		d, err := c.open(p)
		if err != nil {
			return nil, err
		}
		out[i] = d
	}
	return out, nil
}

// ErrUnknownKey marks a payload sealed with a key this codec lacks.
var ErrUnknownKey = errors.New("codec: unknown key")

// open checks and decrypts one encrypted payload.
func (c *Codec) open(p *commonpb.Payload) (*commonpb.Payload, error) {
	id := string(p.GetMetadata()[MetaKeyID])
	if ci := string(p.GetMetadata()[MetaCipher]); ci != Cipher {
		return nil, fmt.Errorf("codec: payload sealed with %q (key %q), this runbook knows only %q", ci, id, Cipher)
	}
	k, ok := c.find(id)
	if !ok {
		return nil, fmt.Errorf("%w %q: the payload was encrypted with a key that is not in %s; add that key's line (keep the current first line first)", ErrUnknownKey, id, EnvKeys)
	}
	ns := k.aead.NonceSize()
	if len(p.GetData()) < ns+k.aead.Overhead() {
		return nil, fmt.Errorf("codec: payload sealed with key %q is truncated", id)
	}
	compressed, err := k.aead.Open(nil, p.Data[:ns], p.Data[ns:], []byte(id))
	if err != nil {
		return nil, fmt.Errorf("codec: payload sealed with key %q does not authenticate (altered, or a different key under the same ID): %w", id, err)
	}
	raw, err := c.dec.DecodeAll(compressed, nil)
	if err != nil {
		return nil, fmt.Errorf("codec: decompress payload of key %q: %w", id, err)
	}
	var orig commonpb.Payload
	if err := proto.Unmarshal(raw, &orig); err != nil {
		return nil, fmt.Errorf("codec: unmarshal payload of key %q: %w", id, err)
	}
	return &orig, nil
}

// find returns the key named id.
func (c *Codec) find(id string) (key, bool) {
	for _, k := range c.keys {
		if k.id == id {
			return k, true
		}
	}
	return key{}, false
}

// Missing is the codec of a process without RUNBOOK_CODEC_KEYS: it stores
// payloads as they are and reads plaintext ones, and an encrypted payload
// is an error that says which key it needs and where keys are set, rather
// than the SDK's "encoding not supported".
type Missing struct{}

var _ converter.PayloadCodec = Missing{}

// Encode returns payloads unchanged.
func (Missing) Encode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	return payloads, nil
}

// Decode returns plaintext payloads unchanged and refuses encrypted ones.
func (Missing) Decode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	for _, p := range payloads {
		if string(p.GetMetadata()[converter.MetadataEncoding]) == Encoding {
			return nil, fmt.Errorf("%w %q: the payload is encrypted and %s is not set; set it to the keys the worker uses", ErrUnknownKey, p.GetMetadata()[MetaKeyID], EnvKeys)
		}
	}
	return payloads, nil
}
