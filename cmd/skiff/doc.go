// SPDX-License-Identifier: Apache-2.0

// Command skiff carries Ethernet over UDP between sites: one binary whose
// subcommands check configs, make keys and (later) run and inspect the
// node. Run "skiff help" for the list of commands.
//
// Exit codes: 0 success, 1 runtime error (including an invalid config),
// 2 usage error.
package main
