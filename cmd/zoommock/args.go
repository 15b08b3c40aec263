package main

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// flagsFirst moves the flags of a command line before its arguments, so that
// `zoommock verify CASSETTE --target URL` works as the docs write it: urfave/cli v2, like the flag
// package, stops reading flags at the first argument. A flag's value stays with it (a flag that
// is not a boolean takes the next word unless written --flag=value), and everything after "--"
// stays an argument.
func flagsFirst(app *cli.App, args []string) []string {
	if len(args) < 3 {
		return args
	}
	cmd := app.Command(args[1])
	if cmd == nil {
		return args
	}
	// Descend into subcommands (zoommock cassette pack ...): their flags belong after their name.
	start := 2
	for start < len(args) {
		sub := cmd.Command(args[start])
		if sub == nil {
			break
		}
		cmd = sub
		start++
	}
	var flags, rest []string
	for i := start; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			rest = append(rest, args[i:]...)
			i = len(args)
		case len(a) > 1 && a[0] == '-':
			flags = append(flags, a)
			if !strings.Contains(a, "=") && takesValue(cmd, strings.TrimLeft(a, "-")) && i+1 < len(args) {
				i++
				flags = append(flags, args[i])
			}
		default:
			rest = append(rest, a)
		}
	}
	return append(append(append([]string(nil), args[:start]...), flags...), rest...)
}

// takesValue reports whether the command's flag name reads a value (every kind but a boolean).
func takesValue(cmd *cli.Command, name string) bool {
	for _, f := range cmd.Flags {
		for _, n := range f.Names() {
			if n == name {
				_, isBool := f.(*cli.BoolFlag)
				return !isBool
			}
		}
	}
	return false
}
