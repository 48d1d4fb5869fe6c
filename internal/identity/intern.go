package identity

import "sync"

// internLimit bounds how many distinct roots Intern keeps: a worker's roots
// change a few times a year, and a release verifies with the ones it loaded.
const internLimit = 16

// interned are the roots and verifiers every workflow of the process
// shares, by digest.
var interned struct {
	sync.Mutex
	byDigest map[string]internedRoots
}

type internedRoots struct {
	roots    Roots
	verifier *Verifier
}

// Intern returns roots and their verifier, shared by every caller in the
// process that loaded the same roots. A worker keeps each release's roots
// in memory while the release waits at its gates; shared, a thousand
// releases hold one copy and one parsed allowed-signers file, not a
// thousand. The key is the digest recomputed from r's content, never the
// one r carries, so two roots share only when they are the same; the
// result is then the same as r.Verifier()'s, which keeps workflow code that
// calls it deterministic. Neither result may be modified.
func Intern(r Roots) (Roots, *Verifier, error) {
	key := r.digest()
	interned.Lock()
	got, ok := interned.byDigest[key]
	interned.Unlock()
	if ok && got.roots.Digest == r.Digest {
		return got.roots, got.verifier, nil
	}
	v, err := r.Verifier()
	if err != nil {
		return r, nil, err
	}
	interned.Lock()
	defer interned.Unlock()
	if interned.byDigest == nil || len(interned.byDigest) >= internLimit {
		interned.byDigest = map[string]internedRoots{}
	}
	interned.byDigest[key] = internedRoots{roots: r, verifier: v}
	return r, v, nil
}
