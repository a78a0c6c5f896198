package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/heraldrt/herald/auth"
)

var tokenCommand = &command{
	name:    "token",
	summary: "mint a connection or subscription token (HS256) for testing",
	run:     runToken,
	flags:   func() *flag.FlagSet { fs, _ := tokenFlags(); return fs },
}

const tokenUsage = `Usage: herald token [flags]

Mints an HS256 JWT for testing, signed with the server's HMAC secret:
--secret, else token.hmac_secret from --config FILE or the environment
(HERALD_TOKEN_HMAC_SECRET). Prints the token on stdout.

A connection token says who the user is (sub), when it expires (exp), what
others see of the connection (info) and which channels the server
subscribes it to (channels). With --channel it is a subscription token for
that one channel instead.

In production the application backend mints tokens with its own JWT
library; this command is for trying things out and for scripts.

Examples:
  herald token --user 42 --ttl 1h --secret "$(cat secret)"
  herald sub --token "$(herald token --user 42)" http://127.0.0.1:8000 news
  herald token --user 42 --channel private:report --ttl 10m
`

type tokenOptions struct {
	user, channel, secret, config, info, channels, audience, issuer string
	ttl                                                             time.Duration
}

func tokenFlags() (*flag.FlagSet, *tokenOptions) {
	o := &tokenOptions{}
	fs := newCLIFlags("token")
	fs.StringVar(&o.user, "user", "", "`ID` of the user (sub); empty makes an anonymous token")
	fs.DurationVar(&o.ttl, "ttl", time.Hour, "lifetime: exp is now + ttl")
	fs.StringVar(&o.channel, "channel", "", "make a subscription token for `CHANNEL`")
	fs.StringVar(&o.channels, "channels", "", "comma-separated `CHANNELS` the server subscribes the connection to")
	fs.StringVar(&o.info, "info", "", "public info about the connection, as `JSON` (shown in presence)")
	fs.StringVar(&o.secret, "secret", "", "HMAC `SECRET` (default: token.hmac_secret from --config or HERALD_TOKEN_HMAC_SECRET)")
	fs.StringVar(&o.config, "config", "", "server configuration `FILE` to read token.hmac_secret, audience and issuer from")
	fs.StringVar(&o.audience, "audience", "", "the `aud` claim (default: token.audience of the configuration)")
	fs.StringVar(&o.issuer, "issuer", "", "the `iss` claim (default: token.issuer of the configuration)")
	return fs, o
}

func runToken(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs, o := tokenFlags()
	if code, ok := parseCLIFlags(fs, args, tokenUsage, stdout, stderr); !ok {
		return code
	}
	if fs.NArg() > 0 {
		return usageError(stderr, fs, fmt.Sprintf("unexpected argument %q: token takes only flags", fs.Arg(0)))
	}
	claims, secret, err := o.claims(os.LookupEnv)
	if err != nil {
		fmt.Fprintf(stderr, "herald token: %v\n", err)
		return 2
	}
	tok, err := auth.Mint(secret, claims)
	if err != nil {
		fmt.Fprintf(stderr, "herald token: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, tok)
	return 0
}

// claims gathers what to mint, taking the secret and the aud/iss defaults
// from the configuration as the server would read it.
func (o *tokenOptions) claims(getenv func(string) (string, bool)) (auth.MintClaims, string, error) {
	l := newLoader()
	if err := l.load(o.config, getenv); err != nil {
		return auth.MintClaims{}, "", err
	}
	t := l.cfg.Token
	secret := o.secret
	if secret == "" {
		secret = t.HMACSecret
	}
	if secret == "" {
		return auth.MintClaims{}, "", errors.New("no HMAC secret: pass --secret, or set token.hmac_secret in --config or HERALD_TOKEN_HMAC_SECRET")
	}
	c := auth.MintClaims{User: o.user, TTL: o.ttl, Channel: o.channel, Audience: t.Audience, Issuer: t.Issuer}
	if o.audience != "" {
		c.Audience = o.audience
	}
	if o.issuer != "" {
		c.Issuer = o.issuer
	}
	if o.info != "" {
		if !json.Valid([]byte(o.info)) {
			return auth.MintClaims{}, "", fmt.Errorf("--info must be JSON, e.g. '{\"name\":\"Ann\"}'")
		}
		c.Info = json.RawMessage(o.info)
	}
	if o.channels != "" {
		if o.channel != "" {
			return auth.MintClaims{}, "", errors.New("--channels is for connection tokens, --channel makes a subscription token: pick one")
		}
		c.Channels = strings.Split(o.channels, ",")
	}
	if o.ttl <= 0 {
		return auth.MintClaims{}, "", fmt.Errorf("--ttl must be positive, got %s", o.ttl)
	}
	return c, secret, nil
}
