// Package account owns what Permiso knows about people: password hashing
// (Argon2id in PHC form, with the original Permiso's parameters so its
// hashes keep verifying), the password policy, lockout and sessions.
package account
