package cassettes

func runHelper(mode string) int { return 2 }
