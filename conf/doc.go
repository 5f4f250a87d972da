// SPDX-License-Identifier: Apache-2.0

// Package conf reads a skiff node's YAML config file into a validated,
// typed Config with every default applied.
//
// Decoding is strict: the file must say "version: 1", unknown and duplicate
// keys are errors, and a value of the wrong kind (a list where a mapping is
// expected, "1s" where a number is expected, "yes" for a boolean) is an error.
// Every problem in the file is reported, not only the first, each one as an
// *Error naming the file, the line and the key path:
//
//	site-a.yaml:7: underlay.mtu: 99999 out of range 576..65535
//	site-a.yaml:12: suite: unknown suite "aes-512-gcm" (want one of none, aes-128-gcm, ...)
//	site-a.yaml:31: peers[0].paths[1].local: 192.0.2.9:4800 is not one of underlay.listen (0.0.0.0:4800)
//
// Durations are strings in Go syntax ("3s", "250ms", "2m"); sizes are
// integers of bytes. A key with an empty or null value (`key:` or `key: ~`)
// is the same as leaving the key out. Relative file paths (psk.key_file,
// vlan_map, control.socket) are resolved against the directory of the config
// file. See Example for a commented config with every key, and the files in
// conf/examples for working setups.
package conf
