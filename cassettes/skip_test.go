package cassettes

import (
	"encoding/json"
	"testing"
)

func BenchmarkSkipString(b *testing.B) {
	recs := typicalRecording(b, 200, 3)
	var lines [][]byte
	size := 0
	for _, r := range recs {
		if r.Frame != nil && len(r.Frame.Payload) > 500 {
			var env struct{ Content string }
			json.Unmarshal([]byte(r.Frame.Payload), &env)
			l := appendString(nil, env.Content) // the content string as embedded
			lines = append(lines, l)
			size += len(l)
		}
	}
	b.SetBytes(int64(size))
	for b.Loop() {
		for _, l := range lines {
			lx := lexer{b: l}
			if err := lx.skipString(); err != nil {
				b.Fatal(err)
			}
		}
	}
}
