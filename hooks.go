package wsserver

// AddCloseHook registers fn to be called with the ConnectionID of every
// connection that leaves Connections, before its Disconnected event. It is
// meant for layers that keep their own tables of connections (the cluster
// package's topic subscriptions): fn runs on the goroutine ending the
// connection, outside the event dispatch, so it must be quick, must not block
// and must not panic. The returned function removes the hook.
func (s *Server) AddCloseHook(fn func(id int)) (remove func()) {
	h := &fn
	s.mu.Lock()
	// A new slice each time: finish reads the old one without the lock.
	s.closeHooks = append(s.closeHooks[:len(s.closeHooks):len(s.closeHooks)], h)
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		for i, x := range s.closeHooks {
			if x == h {
				hooks := make([]*func(int), 0, len(s.closeHooks)-1)
				hooks = append(hooks, s.closeHooks[:i]...)
				s.closeHooks = append(hooks, s.closeHooks[i+1:]...)
				return
			}
		}
	}
}
