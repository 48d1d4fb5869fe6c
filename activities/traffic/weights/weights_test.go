package weights

import (
	"strings"
	"testing"
)

func TestCheckAndVerify(t *testing.T) {
	known := map[string]string{"blue": "tg-1", "green": "tg-2"}
	hint := func(name string) string { return "add option tg." + name + "=<ARN>" }
	if msg := Check("alb", known, map[string]int{"blue": 10, "green": 90}, 100, hint); msg != "" {
		t.Errorf("valid weights refused: %s", msg)
	}
	if msg := Check("alb", known, map[string]int{"red": 1, "blue": 101}, 100, hint); msg != `alb: backend "blue": weight 101 out of range 0..100` {
		t.Errorf("the first problem by name: %q", msg)
	}
	if msg := Check("alb", known, map[string]int{"red": 1}, 100, hint); msg != `alb: unknown backend "red"; known: blue, green (add option tg.red=<ARN>)` {
		t.Errorf("unknown backend: %q", msg)
	}
	if err := Verify("lb", map[string]int{"blue": 10}, map[string]int{"blue": 10, "green": 90}); err != nil {
		t.Errorf("matching read-back refused: %v", err)
	}
	err := Verify("lb", map[string]int{"green": 90, "blue": 10}, map[string]int{"blue": 0})
	if err == nil || !strings.Contains(err.Error(), "lb: weights did not take effect: blue=10 (read back 0), green=90 (read back 0)") {
		t.Errorf("mismatch: %v", err)
	}
}
