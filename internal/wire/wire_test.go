package wire

import (
	"sync"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestSignerMatchesSign(t *testing.T) {
	t.Parallel()
	s := NewSigner("zoommock-dev-secret-token")
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				content := `{"event":"meeting.started","payload":{"n":` + string(rune('0'+g)) + `}}` + string(make([]byte, i*400))
				ts := int64(1764770400 + i)
				if got, want := s.Sign(ts, content), Sign("zoommock-dev-secret-token", ts, content); got != want {
					t.Errorf("Signer.Sign(%d, %d bytes) = %s, want %s", ts, len(content), got, want)
					return
				}
			}
		}()
	}
	wg.Wait()
}
