package account

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Policy is the password policy of the original Permiso (§4.2 of its
// description): length, character classes, no username, no common
// patterns. Every rule can be switched off or tuned.
type Policy struct {
	MinLength      int // characters; default 8
	MaxLength      int // characters; default 128
	RequireUpper   bool
	RequireLower   bool
	RequireDigit   bool
	RequireSpecial bool // one of Specials
	// ForbidUsername refuses a password containing the username
	// (case-insensitive).
	ForbidUsername bool
	// ForbidCommon refuses passwords that start with a common word or
	// contain a keyboard run (see commonPrefixes and keyboardRuns).
	ForbidCommon bool
}

// Specials are the characters that count as special, as the original's.
const Specials = `!@#$%^&*(),.?":{}|<>`

// DefaultPolicy is the original's policy with every rule on.
func DefaultPolicy() Policy {
	return Policy{MinLength: 8, MaxLength: 128, RequireUpper: true, RequireLower: true, RequireDigit: true,
		RequireSpecial: true, ForbidUsername: true, ForbidCommon: true}
}

// Problem texts, also used by the tests.
const (
	msgRequired = "Password is required"
	msgUsername = "Password must not contain the username"
	msgCommon   = "Password contains common patterns and is not secure"
)

// Check returns every rule password breaks, in a fixed order; none means
// it is acceptable. username may be empty.
func (p Policy) Check(password, username string) []string {
	if password == "" {
		return []string{msgRequired}
	}
	minLen, maxLen := p.MinLength, p.MaxLength
	if minLen <= 0 {
		minLen = 8
	}
	if maxLen <= 0 {
		maxLen = 128
	}
	var out []string
	n := utf8.RuneCountInString(password)
	if n < minLen {
		out = append(out, "Password must be at least "+strconv.Itoa(minLen)+" characters long")
	}
	if n > maxLen {
		out = append(out, "Password must be at most "+strconv.Itoa(maxLen)+" characters long")
	}
	c := classesOf(password)
	if p.RequireUpper && !c.upper {
		out = append(out, "Password must contain at least one uppercase letter")
	}
	if p.RequireLower && !c.lower {
		out = append(out, "Password must contain at least one lowercase letter")
	}
	if p.RequireDigit && !c.digit {
		out = append(out, "Password must contain at least one digit")
	}
	if p.RequireSpecial && !c.special {
		out = append(out, "Password must contain at least one special character ("+Specials+")")
	}
	if p.ForbidUsername && username != "" && strings.Contains(strings.ToLower(password), strings.ToLower(username)) {
		out = append(out, msgUsername)
	}
	if p.ForbidCommon && HasCommonPattern(password) {
		out = append(out, msgCommon)
	}
	return out
}

type classes struct{ upper, lower, digit, special bool }

func (c classes) count() int {
	n := 0
	for _, b := range [...]bool{c.upper, c.lower, c.digit, c.special} {
		if b {
			n++
		}
	}
	return n
}

func classesOf(s string) classes {
	var c classes
	for _, r := range s {
		switch {
		case unicode.IsUpper(r):
			c.upper = true
		case unicode.IsLower(r):
			c.lower = true
		case unicode.IsDigit(r):
			c.digit = true
		case strings.ContainsRune(Specials, r):
			c.special = true
		}
	}
	return c
}

var (
	commonPrefixes = []string{"password", "123456", "qwerty", "admin", "letmein", "welcome", "monkey", "dragon"}
	keyboardRuns   = []string{"qwertyuiop", "asdfghjkl", "zxcvbnm", "1234567890"}
)

// HasCommonPattern reports whether password (or its reverse) starts with a
// common word or contains a keyboard run, ignoring case.
func HasCommonPattern(password string) bool {
	low := strings.ToLower(password)
	for _, s := range []string{low, reverse(low)} {
		for _, p := range commonPrefixes {
			if strings.HasPrefix(s, p) {
				return true
			}
		}
		for _, k := range keyboardRuns {
			if strings.Contains(s, k) {
				return true
			}
		}
	}
	return false
}

func reverse(s string) string {
	r := []rune(s)
	for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
		r[i], r[j] = r[j], r[i]
	}
	return string(r)
}

// Strength scores a password from 0 to 100 and labels it, as the
// original: length (+25 at 8, +15 at 12, +10 at 16 characters), classes
// (lower +10, upper +10, digit +10, special +15), variety (+5 for three
// classes, +10 more for four), then -20 for a common pattern and -10 for
// repetition or a run such as "abc" or "321".
func Strength(password string) (int, string) {
	score := 0
	n := utf8.RuneCountInString(password)
	for _, step := range [...]struct{ at, add int }{{8, 25}, {12, 15}, {16, 10}} {
		if n >= step.at {
			score += step.add
		}
	}
	c := classesOf(password)
	for _, x := range [...]struct {
		has bool
		add int
	}{{c.lower, 10}, {c.upper, 10}, {c.digit, 10}, {c.special, 15}} {
		if x.has {
			score += x.add
		}
	}
	if k := c.count(); k >= 3 {
		score += 5
		if k == 4 {
			score += 10
		}
	}
	if password != "" && HasCommonPattern(password) {
		score -= 20
	}
	if repetitive(password) {
		score -= 10
	}
	score = max(0, min(100, score))
	return score, strengthLabel(score)
}

func strengthLabel(score int) string {
	switch {
	case score < 30:
		return "Very Weak"
	case score < 50:
		return "Weak"
	case score < 70:
		return "Fair"
	case score < 85:
		return "Good"
	}
	return "Strong"
}

// repetitive reports three identical characters in a row, or one of the
// runs abc, 123, xyz, 789 forwards or reversed.
func repetitive(password string) bool {
	r := []rune(strings.ToLower(password))
	for i := 2; i < len(r); i++ {
		if r[i] == r[i-1] && r[i] == r[i-2] {
			return true
		}
	}
	low := string(r)
	for _, run := range []string{"abc", "123", "xyz", "789", "cba", "321", "zyx", "987"} {
		if strings.Contains(low, run) {
			return true
		}
	}
	return false
}
