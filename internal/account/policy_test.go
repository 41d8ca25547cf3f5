package account

import (
	"slices"
	"strings"
	"testing"
)

// TestPolicy is §7 item 96 of permiso-original.md.
func TestPolicy(t *testing.T) {
	p := DefaultPolicy()
	tests := []struct {
		name, password, username, want string
	}{
		{"too_short", "Ab1!xyz", "", "at least 8"},
		{"too_long", "Ab1!" + strings.Repeat("x", 125), "", "at most 128"},
		{"no_upper", "lower1!case", "", "uppercase"},
		{"no_lower", "UPPER1!CASE", "", "lowercase"},
		{"no_digit", "NoDigits!here", "", "digit"},
		{"no_special", "NoSpecial123", "", "special"},
		{"contains_username", "xxJohnDoe1!", "johndoe", msgUsername},
		{"empty", "", "", msgRequired},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := strings.Join(p.Check(tc.password, tc.username), "; ")
			if !strings.Contains(got, tc.want) {
				t.Fatalf("Check(%q) = %q, want %q", tc.password, got, tc.want)
			}
		})
	}
	for _, pw := range []string{"password123!", "Password123!", "123456789!", "qwerty123!", "admin123!", "Xx1!poiuytrewq", "Zz9!asdfghjkl"} {
		t.Run("common_"+pw, func(t *testing.T) {
			if got := strings.Join(p.Check(pw, ""), "; "); !strings.Contains(got, msgCommon) {
				t.Fatalf("Check(%q) = %q", pw, got)
			}
		})
	}
	if got := p.Check("Sunny!Meadow-42", "alice"); len(got) != 0 {
		t.Fatalf("a good password fails: %v", got)
	}
	relaxed := Policy{MinLength: 4}
	if got := relaxed.Check("abcd", ""); len(got) != 0 {
		t.Fatalf("relaxed policy: %v", got)
	}
}

func TestStrength(t *testing.T) {
	tests := []struct {
		password string
		min, max int
		labels   []string
	}{
		{"VeryStrongP@ssw0rd2024!", 80, 100, []string{"Good", "Strong"}},
		{"weak", 0, 49, nil},
		{"MediumPass123", 30, 80, nil},
		{"", 0, 0, []string{"Very Weak"}},
	}
	for _, tc := range tests {
		t.Run(tc.password, func(t *testing.T) {
			score, label := Strength(tc.password)
			if score < tc.min || score > tc.max {
				t.Fatalf("score %d not in [%d, %d]", score, tc.min, tc.max)
			}
			if tc.labels != nil && !slices.Contains(tc.labels, label) {
				t.Fatalf("label %q, want one of %v", label, tc.labels)
			}
		})
	}
}
