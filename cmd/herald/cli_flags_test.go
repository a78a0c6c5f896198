package main

import "strings"

// isUsageError says whether stderr is the one-line usage error of command
// name, with the pointer to its --help and without the help itself.
func isUsageError(stderr, name string) bool {
	lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
	return len(lines) == 2 && strings.HasPrefix(lines[0], "herald "+name+": ") &&
		lines[1] == "Run 'herald "+name+" --help' for usage."
}
