package numbers

// Retrying reports whether a reconnection loop runs for the number.
func (s *Service) Retrying(numberID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.retries[numberID] != nil
}
