package auth

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// minRSABits is the shortest RSA key accepted: NIST has disallowed shorter
// keys for signatures since 2013.
const minRSABits = 2048

// parsePublicKeyPEM reads exactly one public key and returns it with the
// algorithms its type allows. Errors say what is wrong with the PEM without
// quoting it.
func parsePublicKeyPEM(s string) (any, []string, error) {
	block, rest := pem.Decode([]byte(strings.TrimSpace(s)))
	if block == nil {
		return nil, nil, errors.New("not a PEM block (expected -----BEGIN PUBLIC KEY-----)")
	}
	if len(bytes.TrimSpace(rest)) > 0 {
		return nil, nil, errors.New("more than one PEM block; give exactly one public key")
	}
	var pub any
	switch block.Type {
	case "PUBLIC KEY":
		k, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, nil, fmt.Errorf("cannot parse the PUBLIC KEY: %w", err)
		}
		pub = k
	case "RSA PUBLIC KEY":
		k, err := x509.ParsePKCS1PublicKey(block.Bytes)
		if err != nil {
			return nil, nil, fmt.Errorf("cannot parse the RSA PUBLIC KEY: %w", err)
		}
		pub = k
	case "CERTIFICATE":
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, nil, fmt.Errorf("cannot parse the CERTIFICATE: %w", err)
		}
		pub = cert.PublicKey
	default:
		if strings.Contains(block.Type, "PRIVATE") {
			// Say so plainly: the operator pasted the wrong half, and the
			// private key should be rotated if this config was shared.
			return nil, nil, fmt.Errorf("is a private key (%s); give the public key only", block.Type)
		}
		return nil, nil, fmt.Errorf("PEM type %q is not a public key", block.Type)
	}
	algs, err := algsForKey(pub)
	if err != nil {
		return nil, nil, err
	}
	return pub, algs, nil
}

// algsForKey returns the default algorithms of a public key's type.
func algsForKey(pub any) ([]string, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < minRSABits {
			return nil, fmt.Errorf("RSA key of %d bits is too short; %d is the minimum", k.N.BitLen(), minRSABits)
		}
		return slices.Clone(rsaAlgs), nil
	case *ecdsa.PublicKey:
		if alg := ecAlgFor(k.Curve); alg != "" {
			return []string{alg}, nil
		}
		return nil, fmt.Errorf("ECDSA curve %s is not supported (P-256, P-384 or P-521)", k.Curve.Params().Name)
	case ed25519.PublicKey:
		return slices.Clone(edAlgs), nil
	}
	return nil, fmt.Errorf("key type %T is not supported (RSA, ECDSA or Ed25519)", pub)
}

func ecAlgFor(c elliptic.Curve) string {
	switch c {
	case elliptic.P256():
		return "ES256"
	case elliptic.P384():
		return "ES384"
	case elliptic.P521():
		return "ES512"
	}
	return ""
}

// keyFits says whether key may verify a token of algorithm alg. This is the
// check that stops algorithm confusion: whatever the token's header says,
// an RSA key is never handed to HMAC, nor an ES256 key to ES512.
func keyFits(alg string, key any) bool {
	switch k := key.(type) {
	case []byte:
		return slices.Contains(hmacAlgs, alg)
	case *rsa.PublicKey:
		return (slices.Contains(rsaAlgs, alg) || slices.Contains(rsaPSAlgs, alg)) && k.N.BitLen() >= minRSABits
	case *ecdsa.PublicKey:
		return ecAlgFor(k.Curve) == alg
	case ed25519.PublicKey:
		return alg == "EdDSA"
	}
	return false
}

// publicOf returns the public half of a private key; other keys as given.
func publicOf(key any) any {
	switch k := key.(type) {
	case *rsa.PrivateKey:
		return &k.PublicKey
	case *ecdsa.PrivateKey:
		return &k.PublicKey
	case ed25519.PrivateKey:
		return k.Public()
	}
	return key
}
