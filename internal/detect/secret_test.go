package detect

import (
	"strings"
	"testing"
)

// Test values: published examples (the IBAN registry's, the argon2 reference
// README's, OpenBSD's bcrypt) or built for the grammar, never real data.
var (
	bcryptHash = "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"
	argonHash  = "$argon2i$v=19$m=65536,t=2,p=4$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG"
	scryptHash = "$scrypt$ln=16,r=8,p=1$aM15713r3Xsvxbi31lqr1Q$nFNh2CVHVjNldFVKDHDlm4CbdRSCdEBsjjJxD+iCs5E"
	passlibPB  = "$pbkdf2-sha256$29000$N2bMGSPkfE/JOQeAEGJMaQ$aB6xMVD.m9d8Ah0n4F/y9vpbl/m/2IADgF0Bt/Zdnyg"
	djangoPB   = "pbkdf2_sha256$600000$Wq2tLq1DaXhpyYxB8sCzQk$Yxh4Sg2nJ0Cz4xQf9pZ3YxCwZm9qV1Jt0Yb8Tq2nR1s="
	werkzeugPB = "pbkdf2:sha256:600000$lQxWmRk3$" + strings.Repeat("3f9a", 16)
	rsaPEM     = "-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu\n-----END RSA PRIVATE KEY-----"
)

func TestNewClasses(t *testing.T) {
	for _, c := range []struct {
		in    string
		class Class
		found string // "" when nothing may be found
	}{
		// US SSNs: dashed, in issued ranges.
		{"ssn 123-45-6789.", SSN, "123-45-6789"},
		{`{"ssn":"078-05-1121"}`, SSN, "078-05-1121"},
		{"000-12-3456", 0, ""},   // area 000
		{"666-12-3456", 0, ""},   // area 666
		{"912-34-5678", 0, ""},   // area 9xx
		{"123-00-4567", 0, ""},   // group 00
		{"123-45-0000", 0, ""},   // serial 0000
		{"123456789", 0, ""},     // undashed
		{"123-45-67890", 0, ""},  // runs on
		{"1123-45-6789", 0, ""},  // longer area
		{"x123-45-6789", 0, ""},  // inside a word
		{"555-123-4567", 0, ""},  // a phone number
		{"2024-01-1234", 0, ""},  // a date-like id
		{"9-123-45-6789", 0, ""}, // part of a longer dashed number
		{"123-45-6789-1", 0, ""}, // runs on into another group
		// IBANs: registry examples, electronic and paper forms.
		{"iban GB82WEST12345698765432 ok", IBAN, "GB82WEST12345698765432"},
		{"DE89 3704 0044 0532 0130 00", IBAN, "DE89 3704 0044 0532 0130 00"},
		{"FR1420041010050500013M02606", IBAN, "FR1420041010050500013M02606"},
		{"NL91ABNA0417164300", IBAN, "NL91ABNA0417164300"},
		{"NO9386011117947", IBAN, "NO9386011117947"},
		{"GB82WEST12345698765433", 0, ""},                          // check digits wrong
		{"GB82WEST1234569876543", 0, ""},                           // one short for GB
		{"GB82WEST123456987654321", 0, ""},                         // runs on
		{"XX82WEST12345698765432", 0, ""},                          // no such country
		{"gb82west12345698765432", IBAN, "gb82west12345698765432"}, // lower case: banks read it as GB82 WEST…
		{"DE89 3704 00440532 0130 00", 0, ""},                      // broken grouping
		{"xDE89370400440532013000", 0, ""},                         // inside a word
		// PEM private keys, through the footer or to the end.
		{"key: " + rsaPEM + " done", PrivateKey, rsaPEM},
		{"-----BEGIN PRIVATE KEY-----\nMIIEvQ", PrivateKey, "-----BEGIN PRIVATE KEY-----\nMIIEvQ"},
		{"-----BEGIN OPENSSH PRIVATE KEY-----", PrivateKey, "-----BEGIN OPENSSH PRIVATE KEY-----"},
		{"-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----", 0, ""},
		{"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----", 0, ""},
		{"-----BEGIN PRIVATE KEY", 0, ""}, // no boundary end
		// Password hashes.
		{"hash=" + bcryptHash, PasswordHash, bcryptHash},
		{argonHash, PasswordHash, argonHash},
		{"argon2$" + argonHash[1:], PasswordHash, "argon2$" + argonHash[1:]},
		{"bcrypt$" + bcryptHash, PasswordHash, "bcrypt$" + bcryptHash},
		{scryptHash, PasswordHash, scryptHash},
		{passlibPB, PasswordHash, passlibPB},
		{djangoPB, PasswordHash, djangoPB},
		{werkzeugPB, PasswordHash, werkzeugPB},
		{"$2b$03$" + bcryptHash[7:], 0, ""},                               // cost below 4
		{"$2b$10$" + bcryptHash[7:59], 0, ""},                             // one short
		{bcryptHash + "x", 0, ""},                                         // runs on
		{"$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$RdescudvJCsgt3ub", 0, ""}, // salt too short
		{"$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHQ$short", 0, ""},       // hash too short
		{"$5$rounds=5000$saltsaltsalt$hashhashhashhashhash", 0, ""},       // sha256-crypt: not listed
		{"$md5$" + strings.Repeat("a", 40), 0, ""},
		{"price $100 and $2b", 0, ""},
		{"pbkdf2_sha256$abc$saltsaltsalt$" + strings.Repeat("h", 44), 0, ""}, // rounds not digits
	} {
		var got []Match
		Scan(c.in, All, func(m Match) bool { got = append(got, m); return true })
		if c.found == "" {
			if len(got) != 0 {
				t.Errorf("%q: found %v %q, want nothing", c.in, got[0].Class, c.in[got[0].Start:got[0].End])
			}
			continue
		}
		if len(got) != 1 || got[0].Class != c.class || c.in[got[0].Start:got[0].End] != c.found {
			t.Errorf("%q: found %+v, want one %v %q", c.in, got, c.class, c.found)
		}
		if cl, ok := Classify(c.found, All); !ok || cl != c.class {
			t.Errorf("Classify(%q) = %v, %v; want %v", c.found, cl, ok, c.class)
		}
		if !Contains(c.in, SetOf(c.class)) || Contains(c.in, All&^SetOf(c.class)) {
			t.Errorf("%q: Contains does not single out %v", c.in, c.class)
		}
	}
}

func TestClassifyIsWholeValue(t *testing.T) {
	for _, c := range []struct {
		in    string
		class Class
		ok    bool
	}{
		{" 4111111111111111 ", CardNumber, true},
		{"Bearer abcdefgh12345678", BearerToken, true},
		{"123-45-6789", SSN, true},
		{"GB82 WEST 1234 5698 7654 32", IBAN, true},
		{bcryptHash, PasswordHash, true},
		{"card 4111111111111111", 0, false},
		{"4111111111111111 is mine", 0, false},
		{strings.Repeat("plain text ", 1000), 0, false},
		{"", 0, false},
	} {
		got, ok := Classify(c.in, All)
		if ok != c.ok || got != c.class {
			t.Errorf("Classify(%.40q) = %v, %v; want %v, %v", c.in, got, ok, c.class, c.ok)
		}
	}
}

// FuzzClassify checks that Classify and Scan agree: a string Classify takes
// whole is one match of Scan from its first to its last non-space byte, and
// Redact then leaves nothing of it that Classify would take again.
func FuzzClassify(f *testing.F) {
	for _, s := range []string{"123-45-6789", "GB82WEST12345698765432", bcryptHash, argonHash, djangoPB, werkzeugPB, rsaPEM, "4111111111111111", "a@b.co"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, ok := Classify(s, All)
		if !ok {
			return
		}
		// Classify reads the visible text (a trailing DEL or U+200B
		// dropped); Scan reads the bytes it is given.
		v, _ := visible(s)
		trimmed := strings.TrimSpace(v)
		if c == PrivateKey || c == Email {
			// A value holding a key after other text, an address after
			// a display name or "mailto:": Scan finds the key or the
			// address inside, and Redact takes it.
			if !Contains(trimmed, SetOf(c)) {
				t.Fatalf("Classify(%q) = %v, but Scan finds none", s, c)
			}
			out, _ := Redact(trimmed, SetOf(c), "*")
			if _, again := Classify(out, SetOf(c)); again {
				t.Fatalf("Redact(%q) = %q is still a %v", trimmed, out, c)
			}
			return
		}
		var first Match
		n := 0
		Scan(trimmed, All, func(m Match) bool { first = m; n++; return false })
		if n == 0 || first.Class != c || first.End != len(trimmed) {
			t.Fatalf("Classify(%q) = %v, but Scan found %+v", s, c, first)
		}
		if c != BearerToken && first.Start != 0 {
			t.Fatalf("Classify(%q) = %v, but Scan's match starts at %d", s, c, first.Start)
		}
		out, _ := Redact(trimmed, SetOf(c), "*")
		if _, again := Classify(out, SetOf(c)); again {
			t.Fatalf("Redact(%q) = %q is still a %v", trimmed, out, c)
		}
	})
}

// TestPrivateKeyAfterOtherText: a value holding a private key is one
// whatever precedes its header: EC parameters, a certificate, OpenSSL's
// PKCS#12 bag attributes, a label. Classify, CanClassify and Contains
// find it; a value with only public PEM blocks is none.
func TestPrivateKeyAfterOtherText(t *testing.T) {
	const key = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIIrYSSNQFaA2Hwf1duRSxKtLYX5CB04fSeQ6tF1aY/PuoAoGCCqGSM49\n-----END EC PRIVATE KEY-----\n"
	const cert = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ\n-----END CERTIFICATE-----\n"
	for _, s := range []string{
		"-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n" + key,
		cert + key,
		"Bag Attributes\n    localKeyID: 01 02 03\n    friendlyName: server\nKey Attributes: <No Attributes>\n" + key,
		"my key:\n" + key,
		"my key: -----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjE=",
		"armor: -----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQOYBF",
	} {
		if c, ok := Classify(s, All); !ok || c != PrivateKey {
			t.Errorf("Classify(%.40q) = %v, %v", s, c, ok)
		}
		if !CanClassify(s, SetOf(PrivateKey)) || !Contains(s, SetOf(PrivateKey)) {
			t.Errorf("%.40q: CanClassify or Contains false", s)
		}
	}
	for _, s := range []string{cert, "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----", "see -----BEGIN PRIVATE KEY"} {
		if c, ok := Classify(s, All); ok {
			t.Errorf("Classify(%.40q) = %v", s, c)
		}
	}
}

// TestScryptAndCryptHashes: Werkzeug's and Django's scrypt hashes and the
// crypt(3) formats of libxcrypt (scrypt "$7$", yescrypt "$y$", SHA-crypt
// "$6$" and "$5$") are password hashes, found whole and in text.
func TestScryptAndCryptHashes(t *testing.T) {
	hashes := []string{
		"scrypt:32768:8:1$k2Jx9Qp4LmZt7WvR$" + strings.Repeat("5f3c", 32),
		"scrypt$16384$Wq2tLq1DaXhpyYxB8sCzQk$8$1$Yxh4Sg2nJ0Cz4xQf9pZ3YxCwZm9qV1Jt0Yb8Tq2nR1sYxh4Sg2nJ0Cz4xQf9pZ3YxCwZm9qV1Jt0Yb8Tq2nR1s==",
		"$7$CU..../....2KhYiFsc5.AEmkQtEIq5oE$V8QhcX4XGFYzXw7dR99YWqDFPDTcjJ2W7rJ2Xt/tJQ1",
		"$y$j9T$F5Jx5fExrKuPp53xLKQ..1$X3DX6M94c7o.9agCG9G317fhZg9SqC.5i5rd.RhAtQ7",
		"$6$rounds=656000$V4Hb2Jb0l4LgQ0u1$" + strings.Repeat("aB3./", 17) + "x",
		"$6$saltsalt$" + strings.Repeat("Zz09./", 14) + "ab",
		"$5$saltsalt$" + strings.Repeat("Zz09./", 7) + "a",
	}
	for _, h := range hashes {
		if c, ok := Classify(h, All); !ok || c != PasswordHash {
			t.Errorf("Classify(%.30q) = %v, %v", h, c, ok)
		}
		if !Contains("hash="+h+" ok", SetOf(PasswordHash)) {
			t.Errorf("%.30q: not found in text", h)
		}
		if _, ok := Classify(h+"x", SetOf(PasswordHash)); ok {
			t.Errorf("%.30q: classified running on", h)
		}
	}
	for _, s := range []string{"scrypt is a key derivation function", "$6$salt$short", "$y$j9T$salt$short", "scrypt:32768:8:1$salt"} {
		if _, ok := Classify(s, All); ok {
			t.Errorf("Classify(%q): classified", s)
		}
	}
}

// FuzzKeyFinder checks KeyFinder against HoldsPrivateKey: text fed in
// three pieces, split anywhere (inside a character too), holds a key
// header for one exactly when it does for the other.
func FuzzKeyFinder(f *testing.F) {
	for _, s := range []string{
		"cert\n-----BEGIN EC PRIVATE KEY-----\nMHc", "------BEGIN PRIVATE KEY-----", "-----BEGIN\u00a0PRIVATE\u200b KEY-----",
		"é-----BEGIN OPENSSH PRIVATE KEY-----", "\xe2-----BEGIN PRIVATE KEY-----", "-----BEGIN PUBLIC KEY-----",
	} {
		f.Add(s, uint16(3), uint16(9))
	}
	f.Fuzz(func(t *testing.T, s string, a, b uint16) {
		i, j := int(a)%(len(s)+1), int(b)%(len(s)+1)
		if i > j {
			i, j = j, i
		}
		var k KeyFinder
		k.Write([]byte(s[:i]))
		k.Write([]byte(s[i:j]))
		k.Write([]byte(s[j:]))
		if want := HoldsPrivateKey(s); k.Found() != want {
			t.Fatalf("%q split at %d, %d: KeyFinder %v, HoldsPrivateKey %v", s, i, j, k.Found(), want)
		}
	})
}

// TestKeyFinderPastItsWindow: a header after text longer than the
// window, split byte by byte, is found; one glued to a '-' is not.
func TestKeyFinderPastItsWindow(t *testing.T) {
	for _, c := range []struct {
		s    string
		want bool
	}{
		{strings.Repeat("MIIBszCC\n", 500) + "-----BEGIN RSA PRIVATE KEY-----\nMII", true},
		{strings.Repeat("-", 1000) + "BEGIN PRIVATE KEY-----", false},
		{strings.Repeat("é\u200b", 300) + "-----BEGIN\u202fPGP PRIVATE KEY BLOCK-----", true},
	} {
		var k KeyFinder
		for i := 0; i < len(c.s); i++ {
			k.Write([]byte{c.s[i]})
		}
		if k.Found() != c.want || HoldsPrivateKey(c.s) != c.want {
			t.Errorf("%.30q…: KeyFinder %v, HoldsPrivateKey %v, want %v", c.s, k.Found(), HoldsPrivateKey(c.s), c.want)
		}
	}
}

// A private key glued to other text ("0----BEGIN …", "id-----BEGIN …") is
// one Classify takes, so Scan (Contains, Redact) finds it too: FuzzClassify
// found "0----BEGIN PRIVATE KEY----" classified and never masked.
func TestPrivateKeyGluedToAWordIsFound(t *testing.T) {
	for _, s := range []string{"0----BEGIN PRIVATE KEY----", "a-----BEGIN PRIVATE KEY-----", "id_rsa:-----BEGIN RSA PRIVATE KEY-----\nMIIE"} {
		if _, ok := Classify(s, All); !ok {
			t.Errorf("Classify(%q): no class", s)
		}
		if !Contains(s, SetOf(PrivateKey)) {
			t.Errorf("Contains(%q, PrivateKey) = false", s)
		}
		if out, _ := Redact(s, SetOf(PrivateKey), "*"); strings.Contains(strings.ToUpper(out), "BEGIN") {
			t.Errorf("Redact(%q) = %q", s, out)
		}
	}
}
