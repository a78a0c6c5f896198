package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/heraldrt/herald/internal/logsample"
)

var serveCommand = &command{
	name:    "serve",
	summary: "run the server (zero-config development mode: herald serve --dev)",
	run:     runServe,
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := loadServeConfig(args, os.LookupEnv, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	var usageErr *cliUsageError
	if errors.As(err, &usageErr) {
		fmt.Fprintf(stderr, "herald serve: %v\nRun 'herald serve --help' for usage.\n", err)
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "herald serve: %v\n", err)
		return 2
	}
	logger := newLogger(cfg.Log, stderr)
	if cfg.Dev {
		applyDev(&cfg, stderr)
	}
	srv, err := newServer(cfg, logger)
	if err != nil {
		fmt.Fprintf(stderr, "herald serve: %v\n", err)
		return 1
	}
	if err := srv.run(ctx); err != nil {
		logger.Error("server stopped", "err", err)
		return 1
	}
	return 0
}

// applyDev turns on everything a developer wants to try Herald with, and
// says loudly that it is not for production.
func applyDev(cfg *Config, w io.Writer) {
	generated := cfg.APIKey == ""
	if generated {
		var b [16]byte
		_, _ = rand.Read(b[:])
		cfg.APIKey = hex.EncodeToString(b[:])
	}
	// The demo page at / plays the application backend and mints tokens,
	// so that presence shows names: it needs an HMAC secret, made here
	// unless the configuration brings a token key of its own.
	t := &cfg.Token
	if t.HMACSecret == "" && t.PublicKey == "" && t.PublicKeyFile == "" && t.JWKSURL == "" {
		var b [32]byte
		_, _ = rand.Read(b[:])
		t.HMACSecret = hex.EncodeToString(b[:])
	}
	dev := func(ns *NamespaceConfig) {
		ns.AllowPublish = true
		ns.Presence = true
		ns.JoinLeave = true
		if ns.HistorySize == 0 {
			ns.HistorySize = 100
			ns.HistoryTTL = Duration(5 * time.Minute)
		}
	}
	dev(&cfg.Channel)
	for name, ns := range cfg.Namespaces {
		dev(&ns)
		cfg.Namespaces[name] = ns
	}
	banner := []string{
		"WARNING: development mode (--dev) is INSECURE: anonymous connections; client publish,",
		"history, presence and join/leave in every channel; any namespace accepted; the RPC",
		"method echo; a chat demo at / that mints tokens for any name. Never use it in production.",
		"API key: " + cfg.APIKey,
	}
	if generated {
		banner[3] += " (random; set one with --api-key)"
	}
	for _, l := range banner {
		fmt.Fprintln(w, "herald: "+l)
	}
}

func newLogger(c LogConfig, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(w, opts)
	if c.Format == "json" {
		h = slog.NewJSONHandler(w, opts)
	}
	// A flood of one error (a broker down, a client in a loop) logs its
	// first 10 lines a second, then a count (suppressed=N) with the next.
	return slog.New(logsample.New(h, logsample.Options{}))
}
