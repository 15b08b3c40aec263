package main

import "github.com/urfave/cli/v2"

func emitCommand() *cli.Command {
	return &cli.Command{Name: "emit", Usage: "send an event to a running mock through its admin API", Hidden: true,
		Action: func(*cli.Context) error { return usagef("emit is not built yet") }}
}

func healthcheckCommand() *cli.Command {
	return &cli.Command{Name: "healthcheck", Usage: "exit 0 when the mock at --addr answers its health endpoint", Hidden: true,
		Action: func(*cli.Context) error { return usagef("healthcheck is not built yet") }}
}
