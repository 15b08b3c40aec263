package mockserver

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/zoommock/zoommock/replayer"
)

// routes wires the Zoom endpoints, and the admin API under /_mock/.
func (s *Server) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/oauth/token", s.handleToken)
	mux.HandleFunc("/ws", s.handleWS)
	// Registering a pattern costs microseconds (ServeMux records its caller), and the admin API has
	// a dozen: they are registered at the first admin request, so a mock that is never steered over
	// HTTP (a zoomtest server in a Go test) starts several times faster.
	mux.HandleFunc("/_mock/", func(w http.ResponseWriter, r *http.Request) {
		s.adminOnce.Do(func() { s.admin = s.adminRoutes() })
		s.admin.ServeHTTP(w, r)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, fmt.Sprintf("zoommock serves POST /oauth/token, GET /ws and the admin API under /_mock/; nothing at %s", r.URL.Path), http.StatusNotFound)
	})
	return mux
}

// adminRoutes wires the admin API.
func (s *Server) adminRoutes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /_mock/health", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	admin := func(pattern string, h func(w http.ResponseWriter, r *http.Request) (any, error)) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			if status, msg := s.adminAllowed(r); status != 0 {
				if status == http.StatusUnauthorized {
					w.Header().Set("WWW-Authenticate", `Bearer realm="zoommock admin API"`)
				}
				writeJSON(w, status, adminError{Error: msg})
				return
			}
			v, err := h(w, r)
			if err != nil {
				writeJSON(w, adminStatus(err), adminError{Error: err.Error()})
				return
			}
			writeJSON(w, http.StatusOK, v)
		})
	}
	admin("GET /_mock/stats", func(http.ResponseWriter, *http.Request) (any, error) { return s.Stats(), nil })
	admin("POST /_mock/events", func(w http.ResponseWriter, r *http.Request) (any, error) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
		if err != nil {
			return nil, fmt.Errorf("%w: failed to read the event: %w", errBadAdminRequest, err)
		}
		sub, err := subscriptionParam(r)
		if err != nil {
			return nil, err
		}
		return s.Emit(sub, body)
	})
	admin("POST /_mock/burst", func(w http.ResponseWriter, r *http.Request) (any, error) {
		var req burstRequest
		if err := decodeStrict(w, r, s.cfg.MaxBodyBytes, &req); err != nil {
			return nil, err
		}
		if len(req.Event) == 0 {
			return nil, fmt.Errorf(`%w: the body needs "event", e.g. {"event":{"event":"meeting.started","payload":{}},"count":1000,"rate":100}`, errBadAdminRequest)
		}
		if req.SubscriptionID == "" {
			req.SubscriptionID = r.URL.Query().Get("subscriptionId")
		}
		return s.Burst(r.Context(), req.SubscriptionID, req.Event, req.Count, req.Rate)
	})
	admin("GET /_mock/connections", func(http.ResponseWriter, *http.Request) (any, error) { return s.Connections(), nil })
	admin("POST /_mock/connections/close", func(w http.ResponseWriter, r *http.Request) (any, error) {
		req, err := decodeCloseRequest(w, r, s.cfg.MaxBodyBytes)
		if err != nil {
			return nil, err
		}
		if req.Abrupt {
			return map[string]int{"dropped": s.DropConnections()}, nil
		}
		return map[string]int{"closed": s.CloseConnections(req.Code, req.Reason)}, nil
	})
	admin("POST /_mock/connections/{id}/close", func(w http.ResponseWriter, r *http.Request) (any, error) {
		req, err := decodeCloseRequest(w, r, s.cfg.MaxBodyBytes)
		if err != nil {
			return nil, err
		}
		id := r.PathValue("id")
		if req.Abrupt {
			return map[string]string{"dropped": id}, s.DropConnection(id)
		}
		return map[string]string{"closed": id}, s.CloseConnection(id, req.Code, req.Reason)
	})
	admin("GET /_mock/journal", func(http.ResponseWriter, *http.Request) (any, error) { return s.Journal(), nil })
	admin("DELETE /_mock/journal", func(http.ResponseWriter, *http.Request) (any, error) {
		s.ClearJournal()
		return map[string]bool{"cleared": true}, nil
	})
	admin("GET /_mock/faults", func(http.ResponseWriter, *http.Request) (any, error) { return s.Faults(), nil })
	admin("PUT /_mock/faults", func(w http.ResponseWriter, r *http.Request) (any, error) {
		var f Faults
		if err := decodeStrict(w, r, s.cfg.MaxBodyBytes, &f); err != nil {
			return nil, err
		}
		s.SetFaults(f)
		return s.Faults(), nil
	})
	admin("DELETE /_mock/faults", func(http.ResponseWriter, *http.Request) (any, error) {
		s.SetFaults(Faults{})
		return s.Faults(), nil
	})
	admin("POST /_mock/tokens/expire", func(http.ResponseWriter, *http.Request) (any, error) {
		s.ExpireTokens()
		return map[string]bool{"expired": true}, nil
	})
	admin("POST /_mock/tokens/invalidate", func(http.ResponseWriter, *http.Request) (any, error) {
		s.InvalidateTokens()
		return map[string]bool{"invalidated": true}, nil
	})
	admin("POST /_mock/reset", func(http.ResponseWriter, *http.Request) (any, error) {
		s.Reset()
		return map[string]bool{"reset": true}, nil
	})
	s.addReplayRoutes(admin)
	mux.HandleFunc("/_mock/", func(w http.ResponseWriter, r *http.Request) {
		// This catch-all also receives a known path with the wrong method (the mux answers 405
		// only when no pattern matches at all): say so with 405 and Allow, as HTTP clients expect.
		if allowed := allowedMethods(mux, r); len(allowed) > 0 {
			w.Header().Set("Allow", strings.Join(allowed, ", "))
			writeJSON(w, http.StatusMethodNotAllowed, adminError{Error: fmt.Sprintf("%s is not allowed on %s: use %s",
				r.Method, r.URL.Path, strings.Join(allowed, " or "))})
			return
		}
		writeJSON(w, http.StatusNotFound, adminError{Error: fmt.Sprintf("no admin endpoint %s %s: the admin API has %s",
			r.Method, r.URL.Path, strings.Join(adminEndpoints, ", "))})
	})
	return mux
}

// allowedMethods lists the methods for which the mux has an admin endpoint at r's path.
func allowedMethods(mux *http.ServeMux, r *http.Request) []string {
	var out []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete} {
		probe := r.WithContext(r.Context()) // a shallow copy whose method may change
		probe.Method = m
		if _, pattern := mux.Handler(probe); pattern != "" && pattern != "/_mock/" && pattern != "/" {
			out = append(out, m)
		}
	}
	return out
}

var adminEndpoints = []string{
	"GET /_mock/health", "GET /_mock/stats", "POST /_mock/events", "POST /_mock/burst", "GET /_mock/connections",
	"POST /_mock/connections/close", "POST /_mock/connections/{id}/close", "GET|DELETE /_mock/journal",
	"GET|PUT|DELETE /_mock/faults", "POST /_mock/tokens/expire", "POST /_mock/tokens/invalidate", "POST /_mock/reset",
	"GET|POST|DELETE /_mock/replay", "POST /_mock/replay/step",
}

// adminError is the body of every failed admin request.
type adminError struct {
	Error string `json:"error"`
}

var errBadAdminRequest = errors.New("bad request")

// adminStatus maps an error to its HTTP status.
func adminStatus(err error) int {
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, ErrUnknownConnection), errors.Is(err, ErrUnknownSubscription), errors.Is(err, ErrNoPlayback):
		return http.StatusNotFound
	case errors.Is(err, replayer.ErrNotStepping), errors.Is(err, replayer.ErrNothingToStep):
		return http.StatusConflict
	case errors.Is(err, ErrBadEvent), errors.Is(err, ErrBadBurst), errors.Is(err, errBadAdminRequest):
		return http.StatusBadRequest
	case errors.Is(err, ErrClosed):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// adminAllowed lets loopback clients in, and others only with the configured bearer token.
func (s *Server) adminAllowed(r *http.Request) (int, string) {
	if loopback(r.RemoteAddr) {
		return 0, ""
	}
	if s.cfg.AdminToken == "" {
		return http.StatusForbidden, "the admin API answers non-loopback clients only with a bearer token: " +
			"start the mock with --admin-token (ZOOMMOCK_ADMIN_TOKEN) and send Authorization: Bearer <token>"
	}
	scheme, got, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), []byte(s.cfg.AdminToken)) != 1 {
		return http.StatusUnauthorized, "missing or wrong admin token: send Authorization: Bearer <the --admin-token value>"
	}
	return 0, ""
}

// subscriptionParam reads ?subscriptionId=, refusing any other query parameter so that a typo
// (subscription=, subscriptionid=) is an error instead of an event sent to every subscription.
func subscriptionParam(r *http.Request) (string, error) {
	q := r.URL.Query()
	for k := range q {
		if k != "subscriptionId" {
			return "", fmt.Errorf("%w: unknown query parameter %q: the only one is subscriptionId (leave it out to reach every subscription)", errBadAdminRequest, k)
		}
	}
	if vs, ok := q["subscriptionId"]; ok && (len(vs) != 1 || vs[0] == "") {
		return "", fmt.Errorf("%w: subscriptionId must be given once and not empty: leave it out to reach every subscription", errBadAdminRequest)
	}
	return q.Get("subscriptionId"), nil
}

// burstRequest is the body of POST /_mock/burst.
type burstRequest struct {
	Event          json.RawMessage `json:"event"`
	Count          int             `json:"count"`
	Rate           float64         `json:"rate"`
	SubscriptionID string          `json:"subscriptionId"`
}

// closeRequest is the body of the close endpoints.
type closeRequest struct {
	Code   int    `json:"code"`
	Reason string `json:"reason"`
	Abrupt bool   `json:"abrupt"`
}

func decodeCloseRequest(w http.ResponseWriter, r *http.Request, limit int64) (closeRequest, error) {
	req := closeRequest{Code: 1000}
	if err := decodeStrict(w, r, limit, &req); err != nil {
		return req, err
	}
	if req.Abrupt {
		return req, nil
	}
	if _, err := ParseCloseSpec(fmt.Sprintf("%d:%s", req.Code, req.Reason)); err != nil {
		return req, fmt.Errorf("%w: %w", errBadAdminRequest, err)
	}
	return req, nil
}

// decodeStrict reads a JSON body into v, refusing unknown fields; an empty body leaves v as it is.
func decodeStrict(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		return fmt.Errorf("%w: failed to read the body: %w", errBadAdminRequest, err)
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		return nil
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return fmt.Errorf("%w: field %q: want a JSON %s, got a JSON %s", errBadAdminRequest, te.Field, jsonKind(te.Type.Kind().String()), te.Value)
		}
		return fmt.Errorf("%w: %s", errBadAdminRequest, strings.TrimPrefix(err.Error(), "json: "))
	}
	if dec.More() {
		return fmt.Errorf("%w: unexpected data after the JSON object", errBadAdminRequest)
	}
	return nil
}

// jsonKind names a Go kind the way a JSON user knows it.
func jsonKind(goKind string) string {
	switch goKind {
	case "int", "int64", "int32", "uint", "uint64", "float64":
		return "number"
	case "bool":
		return "boolean (true or false)"
	case "struct", "map":
		return "object"
	case "slice", "array":
		return "array"
	}
	return goKind
}
