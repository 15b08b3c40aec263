package wire

import (
	"encoding/json"
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

// FuzzMessageMarshal: the hand-written encoder writes what encoding/json writes.
func FuzzMessageMarshal(f *testing.F) {
	for _, s := range []string{`{"event":"meeting.started","payload":{"topic":"a<b>&c \"q\" \\ é"}}`, "\x00\x1f\b\f\n\r\t\x7f", "\xff\xfe\u2028\u2029\U0001F600", ""} {
		f.Add(s, "zoommock-dev-verification-token", "v0=ab")
	}
	f.Fuzz(func(t *testing.T, content, auth, sig string) {
		m := Message{Module: ModuleMessage, Content: content, Header: EventHeader{Authorization: auth, ClientID: content,
			TrackingID: "EventService_0123", Signature: sig, RequestTimestamp: "1764770400"}}
		want, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if got := m.Marshal(); string(got) != string(want) {
			t.Fatalf("Marshal:\n got %s\nwant %s", got, want)
		}
	})
}
