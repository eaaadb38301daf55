package server

import (
	"encoding/json"
	"net/http"
	"sort"
)

// healthz answers 200 while the process runs.
func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"status":"ok"}` + "\n"))
}

// readyz answers 200 when every dependency answers, 503 otherwise, with
// each one's state.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	names := make([]string, 0, len(s.deps.Ready))
	for name := range s.deps.Ready {
		names = append(names, name)
	}
	sort.Strings(names)
	checks := map[string]string{}
	status := http.StatusOK
	for _, name := range names {
		if err := s.deps.Ready[name].Ping(r.Context()); err != nil {
			checks[name] = "unavailable"
			status = http.StatusServiceUnavailable
		} else {
			checks[name] = "ok"
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	state := "ok"
	if status != http.StatusOK {
		state = "unavailable"
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"status": state, "checks": checks})
}
