package identity

import "testing"

func TestInternSharesEqualRootsOnly(t *testing.T) {
	a := Roots{Groups: map[string][]string{"cab": {"alice"}}}
	a.Digest = a.digest()
	b := Roots{Groups: map[string][]string{"cab": {"alice"}}}
	b.Digest = b.digest()
	c := Roots{Groups: map[string][]string{"cab": {"bob"}}}
	c.Digest = c.digest()

	_, va, err := Intern(a)
	if err != nil {
		t.Fatal(err)
	}
	rb, vb, err := Intern(b)
	if err != nil {
		t.Fatal(err)
	}
	if va != vb {
		t.Error("the same roots loaded twice got two verifiers; want one shared")
	}
	if got := rb.Groups["cab"]; len(got) != 1 || got[0] != "alice" {
		t.Errorf("interned roots' groups = %v, want [alice]", got)
	}
	rc, vc, err := Intern(c)
	if err != nil {
		t.Fatal(err)
	}
	if vc == va || rc.Groups["cab"][0] != "bob" {
		t.Errorf("different roots shared a verifier or came back as another's: %v", rc.Groups)
	}
	// A digest that does not match the content is never trusted as a key.
	forged := Roots{Groups: map[string][]string{"cab": {"mallory"}}, Digest: a.Digest}
	rf, vf, err := Intern(forged)
	if err != nil {
		t.Fatal(err)
	}
	if vf == va || rf.Groups["cab"][0] != "mallory" {
		t.Errorf("roots carrying another's digest got that one's verifier: %v", rf.Groups)
	}
}
