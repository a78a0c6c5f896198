// Package deploy holds tested deployment examples: nginx/ is a config for
// running Herald behind nginx. The tests in this package start the real
// herald binary behind a real nginx and check what crosses it.
package deploy
