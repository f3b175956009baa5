// Package e2e holds the end-to-end tests of a whole simulated board: the real
// rotd, swtpm and bmcd processes, assembled in t.TempDir the way
// scripts/sim-board assembles `make run`'s board (dev keys, bmc-config,
// signed bundle, provisioning, `rotd run` releasing bmcd), every listener on
// 127.0.0.1:0 or a port picked per test, every process stopped by PID.
//
// It has no code outside its tests; the tests need swtpm (Debian swtpm,
// swtpm-tools) and fail saying so when it is absent.
package e2e
