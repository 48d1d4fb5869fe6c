package sshsig

import (
	"testing"
	"time"
)

// FuzzVerify checks Verify never panics, whether the input is taken as armored text or as
// a raw SSHSIG blob that is armored first (which reaches the binary parser more often).
// `go test` runs the seeds; `go test -fuzz FuzzVerify` explores.
func FuzzVerify(f *testing.F) {
	signer := seededSigner(f, 1)
	msg := []byte("approve")
	sig, err := Sign(signer, "ns", msg)
	if err != nil {
		f.Fatal(err)
	}
	blob, err := dearmor(sig)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(sig, "ns", msg)
	f.Add(blob, "ns", msg)
	f.Add(sig[:len(sig)/2], "ns", msg)
	f.Add(blob[:len(blob)-5], "ns", msg)
	f.Add([]byte(armorBegin+armorEnd), "ns", []byte{})
	f.Add([]byte("SSHSIG\x00\x00\x00\x01\xff\xff\xff\xff"), "x", []byte{})
	f.Fuzz(func(t *testing.T, data []byte, namespace string, message []byte) {
		if key, err := Verify(data, namespace, message); err == nil && key == nil {
			t.Fatal("Verify returned neither a key nor an error")
		}
		if key, err := Verify(armor(data), namespace, message); err == nil && key == nil {
			t.Fatal("Verify returned neither a key nor an error")
		}
	})
}

// FuzzParseAllowedSigners checks parsing and evaluation never panic on arbitrary files.
func FuzzParseAllowedSigners(f *testing.F) {
	key := authorizedLine(seededSigner(f, 1).PublicKey())
	f.Add("alice " + key)
	f.Add(`"a b,*c" namespaces="x,!y",valid-after="20270101Z",cert-authority ` + key)
	f.Add(`a valid-before="202701011200" ` + key + " comment # here")
	f.Add("# c\n\n\"unterminated")
	f.Fuzz(func(t *testing.T, text string) {
		a, err := ParseAllowedSigners(text, "f")
		if err != nil {
			return
		}
		pub := seededSigner(t, 1).PublicKey()
		_ = a.Authorized("alice", pub, "x", time.Unix(1800000000, 0))
		_ = a.Principals(pub, "x", time.Unix(1800000000, 0))
		_ = a.RestrictsNamespace(pub, "x")
	})
}
