package identity

import (
	"crypto/ed25519"
	"crypto/rand"
	"testing"
	"time"

	"github.com/runbookhq/runbook/internal/testenv/oidcissuer"
)

// BenchmarkVerify measures what an Update validator spends on a signed
// decision, against the floor of one bare Ed25519 verification of the same
// statement bytes (the cryptography alone), in the same run.
func BenchmarkVerify(b *testing.B) {
	p := newPeople(b)
	v, err := p.roots.Verifier()
	if err != nil {
		b.Fatal(err)
	}
	proof, err := SSHSigner{Key: p.bob, Now: at(t0)}.Sign(b.Context(), claim, "bob")
	if err != nil {
		b.Fatal(err)
	}
	b.Run("floor-ed25519", func(b *testing.B) {
		pub, priv, _ := ed25519.GenerateKey(rand.Reader)
		msg := proof.Statement.Bytes()
		sig := ed25519.Sign(priv, msg)
		for b.Loop() {
			if !ed25519.Verify(pub, msg, sig) {
				b.Fatal("bad signature")
			}
		}
	})
	b.Run("ssh-decision", func(b *testing.B) {
		for b.Loop() {
			if _, err := v.Verify(proof, claim, t0); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("oidc-decision-rs256", func(b *testing.B) {
		iss := oidcissuer.Start(b)
		p.roots.OIDC = &OIDCRoots{Issuer: iss.URL(), Audience: "runbook", JWKS: iss.JWKS()}
		v, err := p.roots.Verifier()
		if err != nil {
			b.Fatal(err)
		}
		now := time.Now()
		st := NewStatement(claim, "", now)
		tok := iss.Mint(b, map[string]any{"aud": "runbook", "sub": "u", "email": "bob@example.com", "nonce": NonceOf(st)})
		op := &Proof{Method: MethodOIDC, Statement: st, IDToken: tok}
		for b.Loop() {
			if _, err := v.Verify(op, claim, now); err != nil {
				b.Fatal(err)
			}
		}
	})
}
