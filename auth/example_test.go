package auth_test

import (
	"context"
	"fmt"
	"time"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/auth"
)

func Example() {
	// The secret is shared with the application's backend, which mints
	// tokens for its logged-in users.
	const secret = "use-32-random-bytes-or-more-here-please"

	v, err := auth.New(context.Background(), auth.Config{HMACSecret: secret})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer v.Close()

	token, _ := auth.Mint(secret, auth.MintClaims{User: "42", TTL: time.Hour, Channels: []string{"news"}})
	claims, err := v.VerifyConnect(context.Background(), token)
	fmt.Println(claims.User, claims.Channels, err)

	forged, _ := auth.Mint("a-guess-at-the-secret-that-is-wrong", auth.MintClaims{User: "1", TTL: time.Hour})
	_, err = v.VerifyConnect(context.Background(), forged)
	e := herald.AsError(err)
	fmt.Println(e.Code, e.Message)
	// Output:
	// 42 [news] <nil>
	// 101 token signature is invalid
}

func ExampleVerifier_VerifySubscribe() {
	const secret = "use-32-random-bytes-or-more-here-please"
	v, _ := auth.New(context.Background(), auth.Config{HMACSecret: secret})
	defer v.Close()

	token, _ := auth.Mint(secret, auth.MintClaims{User: "42", TTL: time.Minute, Channel: "orders:42"})
	if _, err := v.VerifySubscribe(context.Background(), token, "orders:43"); err != nil {
		fmt.Println(herald.AsError(err).Message)
	}
	claims, _ := v.VerifySubscribe(context.Background(), token, "orders:42")
	fmt.Println(claims.User, claims.Channel)
	// Output:
	// token channel does not match
	// 42 orders:42
}

func ExampleNew_errors() {
	_, err := auth.New(context.Background(), auth.Config{HMACSecret: "secret"})
	fmt.Println(err)
	// Output:
	// auth: token.hmac_secret: is 6 bytes, needs at least 32: anyone holding one token can test guesses of a short secret offline; use 32 random bytes or more
}
